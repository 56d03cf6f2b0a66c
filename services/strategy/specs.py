"""Instance specs in KV `strategy_specs` (key = spec id, value = `StrategySpec`).

Validated on write (the CLI imports `put_spec` / `delete_spec` / `list_specs`) and again on read:
a value written by an older version or by hand must turn into a status with the error, never a
crashed worker. `decode_spec` is the one place raw bytes become a spec.
"""

from __future__ import annotations

import msgspec
import nats.js.errors

from shared import codec, subjects
from shared.bus import Bus
from shared.messages.strategy import StrategySpec


class SpecError(ValueError):
    """A spec that cannot run, with the reason a human can act on."""


def validate_spec(spec: StrategySpec) -> StrategySpec:
    """Round-trip through the codec so every `__post_init__` check and every subject token is
    checked exactly as a worker will check it on read."""
    decoded = decode_spec(spec.id, codec.encode(spec))
    if isinstance(decoded, str):
        raise SpecError(decoded)
    return decoded


def decode_spec(key: str, raw: bytes) -> StrategySpec | str:
    """The spec stored under `key`, or the reason it is invalid (never raises)."""
    try:
        spec = codec.decode(raw, StrategySpec)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return f"invalid spec: {exc}"
    if spec.id != key:
        return f"invalid spec: id {spec.id!r} does not match its key {key!r}"
    try:
        subjects.token(spec.venue)
        for product in spec.products:
            subjects.token(product)
    except ValueError as exc:
        return f"invalid spec: {exc}"
    return spec


async def put_spec(bus: Bus, spec: StrategySpec) -> int:
    """Validate and store a spec (create or replace); returns the KV revision. Raises `SpecError`."""
    checked = validate_spec(spec)
    kv = await bus.kv_raw(subjects.KV_STRATEGY_SPECS)
    return int(await kv.put(checked.id, codec.encode(checked)))


async def delete_spec(bus: Bus, spec_id: str) -> bool:
    """Delete a spec: its owner stops the instance. False when there was no such spec."""
    kv = await bus.kv_raw(subjects.KV_STRATEGY_SPECS)
    try:
        entry = await kv.get(spec_id)
    except nats.js.errors.KeyNotFoundError:
        return False
    if entry.value is None:
        return False
    await kv.delete(spec_id)
    return True


async def list_specs(bus: Bus) -> dict[str, StrategySpec | str]:
    """Every stored spec by id; an invalid one maps to its error text."""
    kv = await bus.kv_raw(subjects.KV_STRATEGY_SPECS)
    try:
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return {}
    out: dict[str, StrategySpec | str] = {}
    for key in sorted(keys):
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            continue
        if entry.value is not None:
            out[key] = decode_spec(key, entry.value)
    return out


async def set_enabled(bus: Bus, spec_id: str, enabled: bool) -> bool:
    """Enable or disable a stored spec with compare-and-set (a concurrent edit wins); False if absent
    or invalid."""
    kv = await bus.kv_raw(subjects.KV_STRATEGY_SPECS)
    try:
        entry = await kv.get(spec_id)
    except nats.js.errors.KeyNotFoundError:
        return False
    if entry.value is None:
        return False
    spec = decode_spec(spec_id, entry.value)
    if isinstance(spec, str):
        return False
    if spec.enabled != enabled:
        changed = msgspec.structs.replace(spec, enabled=enabled)
        await kv.update(spec_id, codec.encode(changed), last=entry.revision)
    return True
