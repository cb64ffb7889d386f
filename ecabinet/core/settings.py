"""Settings, read from ``ECABINET_*`` environment variables when (and only when) asked.

``Settings()`` reads the environment; tests build ``Settings(data_dir=..., ...)`` directly.
``prepare()`` checks that the settings can work (data folder writable, URLs well formed) and fills
in what is derived (the SQLite URL, the secret key), raising ``ConfigError`` with one clear line.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ecabinet.core.cookies import CSRF_COOKIE, SESSION_COOKIE, cookie_name
from ecabinet.core.errors import ConfigError
from ecabinet.core.proxies import Network, parse_networks

SECRET_FILE = "secret_key"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECABINET_", extra="ignore")

    data_dir: Path = Field(default=Path("./meetings_data"), description="Data folder")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data folder (WAL)"
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL; set it to share Socket.IO rooms between processes"
    )
    redis_channel: str = Field(
        default="ecabinet",
        min_length=1,
        max_length=200,
        description="Redis pub/sub channel of the Socket.IO manager; give each installation "
        "sharing one Redis its own (pub/sub channels ignore the Redis database number)",
    )
    secret_key: str | None = Field(
        default=None, description="Secret for signing; generated into the data folder when unset"
    )
    audit_anchor_log: Path | None = Field(
        default=None,
        description="File the audit trail's head is appended to (outside the database); "
        "default: audit-anchors.log in the data folder. Point it at other storage",
    )
    host: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8000, ge=0, le=65535, description="Port to listen on")
    max_upload_mb: int = Field(default=200, ge=1, description="Largest accepted upload, in MiB")
    soffice: str = Field(
        default="soffice",
        description="LibreOffice program that converts Word, Excel, PowerPoint and OpenDocument "
        "files to PDF (a name on PATH or a full path)",
    )
    convert_timeout: float = Field(
        default=120.0, gt=0, description="Seconds one LibreOffice conversion may take"
    )
    bwrap: str = Field(
        default="bwrap",
        description="bubblewrap program that jails LibreOffice while it converts (no network, "
        "no data folder); without it Office files are refused",
    )
    convert_unjailed: bool = Field(
        default=False,
        description="Convert Office files outside the jail (development machines only: "
        "LibreOffice then reaches the network and the data folder)",
    )
    render_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Page rendering processes per server process (default: one per CPU); with "
        "Redis, 0 leaves rendering to `ecabinet worker` processes",
    )
    render_timeout: float = Field(
        default=60.0, gt=0, description="Seconds one page may take to render before it fails"
    )
    clients_dir: Path = Field(
        default=PROJECT_ROOT / "clients", description="Folder with the browser client"
    )
    samples_dir: Path = Field(
        default=PROJECT_ROOT / "meetings_data" / "samples",
        description="Folder with the sample meeting packs used by `ecabinet demo`",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Send the cookies only over HTTPS, under `__Host-` names (set behind TLS)",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks (comma-separated) of the reverse proxies whose "
        "X-Forwarded-For, -Proto and -Host are believed; from anyone else they are ignored",
    )
    session_days: int = Field(default=14, ge=1, description="Sign-in sessions last this long")
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", description="Time zone for dates shown to people"
    )
    log_json: bool = Field(default=False, description="Log JSON lines instead of console text")
    migrate_on_start: bool = Field(default=True, description="Upgrade the database on start")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def session_cookie(self) -> str:
        return cookie_name(SESSION_COOKIE, secure=self.secure_cookies)

    @property
    def csrf_cookie(self) -> str:
        return cookie_name(CSRF_COOKIE, secure=self.secure_cookies)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ecabinet.sqlite3"

    def prepare(self) -> Settings:
        """Check the settings and derive what is missing; return a copy ready to use."""
        data_dir = self.data_dir.expanduser().resolve()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                "ECABINET_DATA_DIR", f"cannot create {data_dir}: {exc.strerror}"
            ) from None
        _check_writable(data_dir)
        database_url = self.database_url or f"sqlite:///{data_dir / 'ecabinet.sqlite3'}"
        _check_database_url(database_url)
        if self.redis_url is not None:
            _check_redis_url(self.redis_url)
        try:
            ZoneInfo(self.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError("ECABINET_TIMEZONE", f"unknown time zone {self.timezone!r}") from None
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            raise ConfigError("ECABINET_TRUSTED_PROXIES", str(exc)) from None
        secret_key = self.secret_key or _load_or_create_secret(data_dir)
        if len(secret_key) < 16:
            raise ConfigError("ECABINET_SECRET_KEY", "must be at least 16 characters")
        anchor_log = (self.audit_anchor_log or data_dir / "audit-anchors.log").expanduser()
        if not anchor_log.parent.is_dir():
            raise ConfigError(
                "ECABINET_AUDIT_ANCHOR_LOG", f"no folder {anchor_log.parent} for the anchor log"
            )
        return self.model_copy(
            update={
                "data_dir": data_dir,
                "database_url": database_url,
                "secret_key": secret_key,
                "audit_anchor_log": anchor_log.resolve(),
            }
        )


def _check_writable(data_dir: Path) -> None:
    # A real write, not os.access: root passes access checks even on a read-only mount.
    probe = data_dir / f".write-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            "ECABINET_DATA_DIR", f"{data_dir} is not writable: {exc.strerror}"
        ) from None


def _check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("ECABINET_DATABASE_URL", f"malformed URL {url!r}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            "ECABINET_DATABASE_URL", f"unsupported database {backend!r} (use sqlite or postgresql)"
        )


def _check_redis_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ConfigError(
            "ECABINET_REDIS_URL", f"malformed URL {url!r} (expected redis://host:port/db)"
        )


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start together, exactly one writes and the other reads its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
