"""The field a 422 of the training API names."""

from __future__ import annotations

from typing import Any


def error_field(body: dict[str, Any]) -> str | None:
    """The field a 422 names: ``field`` of the project's errors, or the last part of ``loc`` of
    FastAPI's validation errors (the contract branch is unifying the two shapes)."""
    detail = body.get("detail")
    if isinstance(detail, list):
        return str(detail[0]["loc"][-1])
    return body.get("field")
