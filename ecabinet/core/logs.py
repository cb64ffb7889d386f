"""Structured logging with structlog, Vietnamese kept readable (no ``\\u`` escapes)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import structlog


def _dumps(obj: Any, **kwargs: Any) -> str:
    kwargs.setdefault("default", str)
    return json.dumps(obj, ensure_ascii=False, **kwargs)


def configure(*, json_lines: bool = False, level: int = logging.INFO) -> None:
    """Configure structlog and the standard library's root logger once per process."""
    renderer: Any
    if json_lines:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    else:
        # Plain tracebacks: with ``rich`` installed structlog would print every frame's local
        # variables, and a command's locals can hold a secret ballot's choice (docs/voting.md).
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("engineio.server", "socketio.server", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
