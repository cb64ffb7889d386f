"""Fixtures of the security tests: one PostgreSQL schema and one Redis channel per module.

The matrix and the fuzzer each run one live server for the whole module, on PostgreSQL and the
Redis manager as in production (and PostgreSQL refuses what SQLite lets through: integers out of
range, overlong strings).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import REDIS_URL, fresh_pg_schema, require_service


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for the module, dropped afterwards."""
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture(scope="module")
def module_redis() -> tuple[str, str]:
    """The Redis URL and a channel of the module's own."""
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL, f"security-{uuid.uuid4().hex[:8]}"
