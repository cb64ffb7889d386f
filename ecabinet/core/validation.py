"""Payload validation shared by the HTTP and Socket.IO adapters."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ecabinet.core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def validate(model: type[M], data: Any) -> M:
    """Validate ``data`` against ``model``; ``InvalidInput`` lists every field problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(
            "Dữ liệu không hợp lệ (invalid payload).",
            code="invalid_payload",
            details=validation_details(exc),
        ) from None
