"""Sign-in limits that stop guessing without locking the owner out (issue #14, finding 12).

Each test runs with the counts in this process's memory and in Redis (shared by processes).
The addresses are only what the application is told the caller is (the test client's peer):
no traffic goes anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ecabinet.app import create_app
from ecabinet.core.ratelimit import Counters, Window
from ecabinet.services import accounts
from tests.conftest import PASSWORD, make_settings

ATTACKER = "10.0.0.66"
OWNER = "10.0.0.5"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
def shared_settings(tmp_path: Path, storage: str | None) -> Any:
    return make_settings(tmp_path / "data", redis_url=storage)


@pytest.fixture
def app(shared_settings: Any) -> Iterator[Any]:
    application = create_app(shared_settings)
    application.runtime.db.run_sync(accounts.create_user, "chutich", PASSWORD, "Nguyễn Văn An")
    yield application
    application.runtime.db.close()


@contextmanager
def caller(app: Any, address: str) -> Iterator[TestClient]:
    """A client the application sees at ``address``. No lifespan: several clients of one app
    here, and signing in needs none of what it starts."""
    client = TestClient(app, base_url="http://testserver", client=(address, 50000))
    try:
        yield client
    finally:
        client.close()


def attempt(client: TestClient, password: str = "sai-mat-khau") -> Any:
    return client.post("/api/auth/signin", json={"username": "chutich", "password": password})


def test_a_guesser_is_refused_while_the_owner_signs_in_from_elsewhere(app: Any) -> None:
    with caller(app, ATTACKER) as attacker, caller(app, OWNER) as owner:
        answers = [attempt(attacker) for _ in range(50)]
        assert [r.status_code for r in answers[:5]] == [401] * 5
        assert {r.status_code for r in answers[5:]} == {429}
        refused = answers[-1]
        assert refused.json()["error"]["code"] == "signin_rate_limited"
        # A real wait: the oldest of the five failures leaves the 5-minute window then.
        assert 280 <= int(refused.headers["retry-after"]) <= 301
        assert attempt(attacker, PASSWORD).status_code == 429  # the right password too

        signed_in = attempt(owner, PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["user"]["username"] == "chutich"


def test_one_address_guessing_many_accounts_is_refused(app: Any) -> None:
    def members(session: Any) -> None:
        for n in range(31):
            accounts.create_user(session, f"daibieu{n}", PASSWORD, "Đại biểu")

    app.runtime.db.run_sync(members)
    with caller(app, ATTACKER) as attacker, caller(app, OWNER) as owner:
        for n in range(30):
            r = attacker.post("/api/auth/signin",
                              json={"username": f"daibieu{n}", "password": "sai-mat-khau"})
            assert r.status_code == 401
        r = attacker.post("/api/auth/signin", json={"username": "daibieu30", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert owner.post("/api/auth/signin",
                          json={"username": "daibieu30", "password": PASSWORD}).status_code == 200


def test_guessing_from_many_addresses_slows_the_answers_but_never_locks_the_owner(
    app: Any,
) -> None:
    timings = []
    for n in range(1, 13):
        with caller(app, f"10.0.1.{n}") as attacker:
            start = time.monotonic()
            assert attempt(attacker).status_code == 401  # never refused: no lock-out
            timings.append(time.monotonic() - start)
    assert max(timings[:9]) < 0.5  # nine failures: not slowed yet
    assert timings[11] >= 0.9  # the 12th failure of the account waited a second
    with caller(app, OWNER) as owner:
        assert attempt(owner, PASSWORD).status_code == 200


def test_a_success_forgets_the_pairs_failures(app: Any) -> None:
    with caller(app, OWNER) as owner:
        for _ in range(4):
            assert attempt(owner).status_code == 401
        assert attempt(owner, PASSWORD).status_code == 200
        for _ in range(4):
            assert attempt(owner).status_code == 401  # four more typos are still allowed
        assert attempt(owner, PASSWORD).status_code == 200


@pytest.mark.redis
def test_server_processes_sharing_redis_share_the_counts(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path / "data", redis_url=redis_url)
    app_a, app_b = create_app(settings), create_app(settings)
    try:
        app_a.runtime.db.run_sync(accounts.create_user, "chutich", PASSWORD, "Nguyễn Văn An")
        with caller(app_a, ATTACKER) as on_a, caller(app_b, ATTACKER) as on_b:
            for client in (on_a, on_b, on_a, on_b, on_a):
                assert attempt(client).status_code == 401
            refused = attempt(on_b, PASSWORD)
            assert refused.status_code == 429  # B counts A's failures too
            assert int(refused.headers["retry-after"]) > 0
    finally:
        app_a.runtime.db.close()
        app_b.runtime.db.close()


async def test_counts_fall_back_to_memory_when_redis_does_not_answer() -> None:
    counters = Counters("redis://127.0.0.1:1/0")  # nothing listens on port 1
    window = Window("test", 2, 60)
    assert counters.shared
    assert await counters.wait(window, "k") == 0
    await counters.hit(window, "k")
    await counters.hit(window, "k")
    assert await counters.count(window, "k") == 2
    assert 55 < await counters.wait(window, "k") <= 60


pytestmark = pytest.mark.anyio
