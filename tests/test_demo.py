from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from ecabinet.core.settings import Settings
from ecabinet.samples import demo


def test_loading_the_sample_twice_keeps_one_meeting_and_resets_passwords(
    app: Any, client: TestClient, settings: Settings
) -> None:
    db = app.runtime.db
    first = db.run_sync(demo.load_sample, settings.samples_dir / "small", "mat-khau-1")
    second = db.run_sync(demo.load_sample, settings.samples_dir / "small", "mat-khau-2")
    assert first.meeting_id == second.meeting_id
    # The sample's twelve members and its observer, and the demo's administrator.
    roles = [role for role, _username, _name in first.accounts]
    assert len(roles) == 14 and roles.count("delegate") == 10
    assert {"admin", "chair", "secretary", "observer"} <= set(roles)
    old = client.post("/api/auth/signin", json={"username": "chutich", "password": "mat-khau-1"})
    assert old.status_code == 401
    new = client.post("/api/auth/signin", json={"username": "chutich", "password": "mat-khau-2"})
    assert new.status_code == 200
    admin = client.post("/api/auth/signin", json={"username": "quantri", "password": "mat-khau-2"})
    assert admin.status_code == 200 and admin.json()["user"]["is_admin"] is True
    observer = client.post(
        "/api/auth/signin", json={"username": "quansat", "password": "mat-khau-2"}
    )
    assert observer.status_code == 200 and observer.json()["user"]["is_admin"] is False
    text = demo.describe(second, "mat-khau-2", "http://127.0.0.1:8000")
    assert "Nguyễn Văn An" in text and "http://127.0.0.1:8000/signin" in text
    assert "Quản trị (admin)" in text and "Quan sát viên (observer)" in text
