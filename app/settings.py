"""Limits on what one request may ask for, read from the environment once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every limit has a sane default and an environment variable that overrides it."""

    max_nodes: int = 2000
    """BPV_MAX_NODES: nodes in one graph."""
    max_elements: int = 1_000_000
    """BPV_MAX_ELEMENTS: elements in any one value (a leaf, an intermediate, a gradient)."""
    max_total_elements: int = 4_000_000
    """BPV_MAX_TOTAL_ELEMENTS: elements of all node values of one graph added up."""
    max_body_bytes: int = 8 * 1024 * 1024
    """BPV_MAX_BODY_BYTES: size of a request body; larger ones get 413."""
    inline_elements: int = 1000
    """BPV_INLINE_ELEMENTS: arrays larger than this are summarised unless the request asks
    for full data."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            max_nodes=_env_int("BPV_MAX_NODES", cls.max_nodes),
            max_elements=_env_int("BPV_MAX_ELEMENTS", cls.max_elements),
            max_total_elements=_env_int("BPV_MAX_TOTAL_ELEMENTS", cls.max_total_elements),
            max_body_bytes=_env_int("BPV_MAX_BODY_BYTES", cls.max_body_bytes),
            inline_elements=_env_int("BPV_INLINE_ELEMENTS", cls.inline_elements),
        )
