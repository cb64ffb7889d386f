"""Document processing: validate, sanitise, render, extract text, watermark, assemble packs.

Pure computation on files; nothing here knows about HTTP, sockets, the database or Redis, so every
function can run in a worker process. Page numbers are 0-based indexes everywhere in this package
(``page=0`` is the first page), as in PyMuPDF; only text shown to people counts from 1.
"""
