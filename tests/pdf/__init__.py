"""Tests of the PDF pipeline (ecabinet.pdf)."""
