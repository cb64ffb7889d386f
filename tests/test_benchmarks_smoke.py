"""The realtime benchmarks run end to end at N = 10 and end with one JSON line, so they do not rot.

They start real server processes (ours and the bare python-socketio baseline) and lean clients in
worker processes, exactly as the full runs do; only N and the number of rounds are small.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service

pytestmark = pytest.mark.slow  # each runs a benchmark script with its servers
ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(module: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) > 1  # a human summary first
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def check_latency(part: dict[str, Any], samples: int) -> None:
    assert part["samples"] == samples
    assert 0 < part["p50_ms"] <= part["p99_ms"] <= part["max_ms"] < 10_000


def test_fanout_smoke() -> None:
    data = run_benchmark("benchmarks.fanout", "--n", "10", "--rounds", "2", "--workers", "2",
                         "--pause", "0.05")
    assert data["benchmark"] == "fanout" and data["rounds"] == 2
    [row] = data["results"]
    assert row["n"] == 10
    check_latency(row["ours"], 20)
    check_latency(row["bare"], 20)
    assert row["p99_ratio"] > 0 and row["payload_bytes"] > 100
    assert row["ours"]["snapshot_join"]["bytes"] > 1000
    assert data["target"] == {"n": 1000, "max_p99_ratio": 1.25, "p99_ratio": None, "met": None}
    assert data["machine"]["nproc"] >= 1 and "python-socketio" in data["machine"]["versions"]


@pytest.mark.redis
@pytest.mark.postgres
def test_fanout_scaled_smoke() -> None:
    require_service("Redis", "127.0.0.1", 6379)
    require_service("PostgreSQL", "127.0.0.1", 5432)
    data = run_benchmark("benchmarks.fanout", "--n", "10", "--rounds", "2", "--workers", "1",
                         "--pause", "0.05", "--scaled-only")
    [row] = data["results"]
    assert "ours" not in row  # the embedded run is the other smoke test's
    check_latency(row["scaled"], 20)
    check_latency(row["scaled_bare"], 20)
    # Half the clients sit on each process: both show up, and all got every event.
    assert set(row["scaled"]["by_server"]) == {"a", "b"}
    assert sum(p["samples"] for p in row["scaled"]["by_server"].values()) == 20


def test_reconnect_smoke() -> None:
    data = run_benchmark("benchmarks.reconnect", "--n", "10", "--workers", "1",
                         "--settle", "0.2")
    assert data["benchmark"] == "reconnect" and data["n"] == 10
    for side in ("ours", "bare"):
        assert data[side]["clients"] == 10
        assert 0 < data[side]["all_resynced_s"] < 30
    # Every client got exactly the three events it missed (each re-join is checked in order).
    assert data["ours"]["resynced_events"] >= 3 * 10
    assert data["ratio"] > 0 and data["target"]["max_ratio"] == 2.5


def test_ink_stream_smoke() -> None:
    data = run_benchmark("benchmarks.ink_stream", "--n", "10", "--seconds", "1", "--rounds",
                         "1", "--workers", "1")
    assert data["benchmark"] == "ink_stream" and data["n"] == 10
    assert data["points_per_second"] == 60 and data["points_per_batch"] == 6
    for side in ("ours", "bare"):
        check_latency(data[side], 10 * 10)  # 10 followers x 10 batches
        assert 0 < data[side]["server_cpu_share"] < 2
    assert data["p99_ratio"] > 0
    assert data["target"] == {"n": 500, "max_p99_ratio": 1.25, "met": None}
