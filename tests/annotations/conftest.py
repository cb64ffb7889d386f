"""Annotation tests: the shared fixtures, with a one-process render pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecabinet.core.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url, render_workers=1)
