"""Recorded Coinbase payloads (shapes of Coinbase's documented examples), as test helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).with_name("recorded")


def raw(name: str) -> bytes:
    """A payload file's bytes, exactly as a WS frame would carry them."""
    return (HERE / f"{name}.json").read_bytes()


def frame(name: str, **changes: Any) -> bytes:
    """A payload with top-level fields replaced (for example another `sequence_num`)."""
    body = json.loads(raw(name))
    body.update(changes)
    return msgspec.json.encode(body)


def edited(name: str, path: tuple[object, ...], value: object) -> bytes:
    """A payload with one nested value replaced: `path` walks keys and list indexes."""
    body = json.loads(raw(name))
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return msgspec.json.encode(body)
