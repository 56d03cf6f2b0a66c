"""msgpack encoding of bus messages (msgspec): one encoder, one cached decoder per type."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder(decimal_format="string")


def encode(message: msgspec.Struct) -> bytes:
    """Encode a message for the bus. Decimals travel as strings, so they stay exact."""
    return _encoder.encode(message)


_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def decode(data: bytes, message_type: type[T]) -> T:
    """Decode and validate a bus payload; raises `msgspec.DecodeError`/`ValidationError` on junk."""
    decoder = _decoders.get(message_type)
    if decoder is None:
        decoder = _decoders[message_type] = msgspec.msgpack.Decoder(message_type)
    result: T = decoder.decode(data)
    return result
