"""Write the files generated from the protocol: docs/protocol.md and the Python client's schemas.

``ecabinet protocol write`` (or ``python -m ecabinet.app.protocol_files``) runs it after a
protocol change; tests fail while the committed files and the code disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecabinet.app.declarations import load_declarations
from ecabinet.protocol import docs, jsonschema


def write() -> list[Path]:
    registry = load_declarations()
    docs.DOC.parent.mkdir(exist_ok=True)
    docs.DOC.write_text(docs.render(registry), encoding="utf-8")
    return [docs.DOC, jsonschema.write(registry)]


def main() -> int:
    for path in write():
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
