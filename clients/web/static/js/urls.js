// Where the server serves documents: one place to change if the routes move.
// Page numbers in these URLs are 1-based; the viewer counts pages from 0 like present.page.

export const pageImage = (docId, index, rendition) =>
  `/api/documents/${docId}/pages/${index + 1}/${rendition}`;
export const pageText = (docId, index) => `/api/documents/${docId}/pages/${index + 1}/text`;
export const documentInfo = (docId) => `/api/documents/${docId}`;
