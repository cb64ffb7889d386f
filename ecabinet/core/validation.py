"""Payload validation shared by the HTTP and Socket.IO adapters."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError

from ecabinet.core.errors import InvalidInput
from ecabinet.core.text import nfc, nfc_trimmed

M = TypeVar("M", bound=BaseModel)

# Text fields stored in NFC (core/text.py), e.g. ``title: TrimmedText = Field(max_length=300)``:
# the lengths are checked on the string as received, then it is normalised. (Wrapped in a further
# ``Annotated[..., Field(...)]`` pydantic would check the lengths after, with a vaguer message.)
NfcText = Annotated[str, AfterValidator(nfc)]
TrimmedText = Annotated[str, AfterValidator(nfc_trimmed)]


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
