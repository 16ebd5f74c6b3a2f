"""The base of every API schema: camelCase on the wire, and no control characters in any text
(PostgreSQL refuses NUL, and the others only hide things from the people who read the records)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control_characters(value: str) -> bool:
    """Tabs and line breaks are text; the rest of C0 and DEL are not."""
    return CONTROL.search(value) is not None


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        if isinstance(value, str) and has_control_characters(value):
            raise ValueError("control characters are not allowed")
        return value


def file_response(content: bytes, content_type: str, file_name: str, sha256: str) -> Response:
    """A stored file as it was sent (evidence, a citizen's photo): a download, with its SHA-256."""
    return Response(
        content,
        media_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}",
            "X-Content-SHA256": sha256,
            "X-Content-Type-Options": "nosniff",
        },
    )


def invalid_details(message: str, *location: str | int) -> list[dict[str, Any]]:
    """A 422 body in the shape of FastAPI's own validation errors, so a client reads one shape."""
    return [{"type": "value_error", "loc": list(location or ("body",)), "msg": message}]


def unprocessable(message: str, *location: str | int) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, invalid_details(message, *location))
