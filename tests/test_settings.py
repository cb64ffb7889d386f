from __future__ import annotations

from pathlib import Path

import pytest

from ecabinet.core.errors import ConfigError
from ecabinet.core.settings import SECRET_FILE, Settings


def test_reads_prefixed_environment_only_when_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ECABINET_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ECABINET_PORT", "9123")
    monkeypatch.setenv("ECABINET_MAX_UPLOAD_MB", "7")
    monkeypatch.setenv("PORT", "1")  # unprefixed variables are not ours
    settings = Settings()
    assert settings.port == 9123
    assert settings.max_upload_bytes == 7 * 1024 * 1024
    assert settings.data_dir == tmp_path / "d"


def test_prepare_derives_sqlite_url_and_keeps_the_generated_secret(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data").prepare()
    assert first.database_url == f"sqlite:///{tmp_path / 'data' / 'ecabinet.sqlite3'}"
    assert first.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "data" / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    second = Settings(data_dir=tmp_path / "data").prepare()
    assert second.secret_key == first.secret_key


@pytest.mark.parametrize(
    ("overrides", "setting", "reason"),
    [
        ({"database_url": "not a url"}, "ECABINET_DATABASE_URL", "malformed"),
        ({"database_url": "mysql://u@h/db"}, "ECABINET_DATABASE_URL", "unsupported"),
        ({"redis_url": "http://localhost:6379"}, "ECABINET_REDIS_URL", "malformed"),
        ({"secret_key": "short"}, "ECABINET_SECRET_KEY", "at least 16"),
        ({"timezone": "Mars/Olympus"}, "ECABINET_TIMEZONE", "unknown time zone"),
    ],
)
def test_bad_settings_name_the_setting_and_the_reason(
    tmp_path: Path, overrides: dict[str, str], setting: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        Settings(data_dir=tmp_path, **overrides).prepare()  # type: ignore[arg-type]
    assert err.value.setting == setting
    assert reason in str(err.value)
    assert "\n" not in str(err.value)


def test_unwritable_data_folder_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError) as err:
        Settings(data_dir=blocker / "data").prepare()
    assert err.value.setting == "ECABINET_DATA_DIR"
