"""The vote storm benchmark runs end to end at N = 10 (so it does not rot) and checks itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_vote_storm_smoke() -> None:
    run = subprocess.run(
        [sys.executable, "-W", "error", "-m", "benchmarks.vote_storm", "--n", "10",
         "--workers", "1", "--secret"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) > 1  # the human summary, then the JSON line
    data = json.loads(lines[-1])
    assert data["benchmark"] == "vote_storm" and data["n"] == 10 and data["secret"] is True
    assert data["ours"]["ack_storm"]["samples"] == 10
    assert data["ours"]["ack_storm"]["failures"] == 0
    assert data["ours"]["result_exact"] is True
    assert data["bare"]["broadcast"]["samples"] == 10
    assert data["ack_ratio"] > 0 and data["publish_ratio"] > 0
    assert data["targets"] == {"ack_ratio": 3.0, "publish_ratio": 1.25}
