"""The pipeline benchmark runs end to end at a tiny size and ends with one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_benchmark_smoke() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "benchmarks.pdf_pipeline",
            "--pages",
            "3",
            "--book-docs",
            "2",
            "--repeat",
            "1",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    last = result.stdout.strip().splitlines()[-1]
    data = json.loads(last)
    assert data["pages"] == 3 and data["book_docs"] == 2
    assert data["pipeline_pages_per_s"] > 0 and data["direct_pages_per_s"] > 0
    assert 0 < data["first_page_s"] < 30
    assert data["book_pages"] == 1 + 1 + 2 * 25
    assert set(data["targets"]) == {"ratio_ge_0.85", "first_page_le_1s", "book_le_10s"}
