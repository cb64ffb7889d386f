"""The sample meeting packs' documents, generated here (never copied from anywhere).

Each sample folder under ``meetings_data/samples/`` holds a committed ``meeting.yaml`` and a
``documents.yaml`` recipe that gives each generated file its page count. The PDFs are written
on first use into the folder's git-ignored ``generated/`` sub-folder: fictional Vietnamese
administrative papers (reports, submissions, draft resolutions, tables of figures) in an
embedded font that has every Vietnamese letter, text normalised to NFC, with bookmarks and page
numbers. The output depends only on the recipe, so every machine generates the same papers.

Run ``python -m ecabinet.samples [NAME ...]`` to generate them by hand.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ecabinet.pdf.papers import Paper, Writer, write_paper
from ecabinet.services.packs import PACK_FILE, AgendaItemSpec, document_specs, read_pack

RECIPE = "documents.yaml"
GENERATED = "generated"


def papers(folder: Path) -> list[Paper]:
    """The documents the sample's recipe says to generate, with their context from the pack."""
    recipe_path = folder / RECIPE
    if not recipe_path.is_file():
        return []
    recipe: dict[str, Any] = yaml.safe_load(recipe_path.read_text(encoding="utf-8")) or {}
    pages: dict[str, int] = {str(k): int(v) for k, v in (recipe.get("pages") or {}).items()}
    spec = read_pack(folder)
    out: list[Paper] = []
    for _loc, doc, item in document_specs(spec):
        if doc.file not in pages or any(p.file == doc.file for p in out):
            continue
        context: AgendaItemSpec | None = item
        out.append(
            Paper(
                file=doc.file,
                title=doc.title or Path(doc.file).stem,
                pages=pages[doc.file],
                item_title=context.title if context else spec.meeting.title,
                presenter=(context.presenter if context else "") or "Văn phòng UBND tỉnh",
                confidential=doc.confidential or bool(context and context.confidential),
            )
        )
    return out


def ensure_generated(folder: Path, fallback: Path | None = None) -> Path:
    """Generate the sample's missing documents; return the folder to import the pack from.

    When ``folder`` cannot be written (an installed, read-only copy), the pack is copied to
    ``fallback`` and generated there.
    """
    todo = [p for p in papers(folder) if not (folder / p.file).is_file()]
    if not todo:
        return folder
    target = folder
    try:
        (folder / GENERATED).mkdir(exist_ok=True)
        probe = folder / GENERATED / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        if fallback is None:
            raise
        target = fallback
        target.mkdir(parents=True, exist_ok=True)
        for name in (PACK_FILE, RECIPE):
            shutil.copy2(folder / name, target / name)
        todo = [p for p in papers(target) if not (target / p.file).is_file()]
    writer = Writer()
    for paper in todo:
        write_paper(paper, target / paper.file, writer)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    from ecabinet.core.settings import Settings

    names = list(argv if argv is not None else sys.argv[1:]) or ["small", "large"]
    root = Settings().samples_dir
    for name in names:
        folder = root / name
        found = papers(folder)
        ensure_generated(folder)
        total = sum(p.pages for p in found)
        print(f"{name}: {len(found)} tài liệu, {total} trang trong {folder / GENERATED}")
    return 0

