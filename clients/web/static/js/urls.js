// Where the server serves documents: one place to change if the routes move.
// Page numbers in these URLs are 1-based; the viewer counts pages from 0 like present.page.
// Content URLs carry the document's access version (changed whenever its confidentiality
// changes), so a copy kept under an old URL is never shown as the current one.

const versioned = (url, version) => (version ? `${url}?v=${version}` : url);

export const pageImage = (docId, index, rendition, version) =>
  versioned(`/api/documents/${docId}/pages/${index + 1}/${rendition}`, version);
export const pageText = (docId, index, version) =>
  versioned(`/api/documents/${docId}/pages/${index + 1}/text`, version);
export const documentPrefix = (docId) => `/api/documents/${docId}/`;
export const documentInfo = (docId) => `/api/documents/${docId}`;
