"""The Socket.IO adapter: handshake auth, payload validation, calls into services, fan-out."""
