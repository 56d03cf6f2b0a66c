"""The typed NATS bus: the one wrapper every publish and consume goes through.

`client.Bus` is the facade; each of its jobs lives in its own module: `connection` (connect,
drain, reconnect reporting), `publish`, `subscribe` (core subscriptions, buffer policies, request
handlers), `consume` (durable pull consumers), `replay` (follow a stream until caught up), `kv`
(typed buckets), and `dispatch` (decode → span → metrics → handler, shared by all of them).
"""

from shared.bus.client import Bus, Handler
from shared.bus.consume import Consumer, DeliveryInfo
from shared.bus.dispatch import MSG_ID_HEADER
from shared.bus.kv import KVEntry, TypedKV
from shared.bus.replay import Followed, Replay, wait_all
from shared.bus.subscribe import REPLY_PREFIX, Subscription
from shared.errors import RevisionConflictError

__all__ = [
    "MSG_ID_HEADER",
    "REPLY_PREFIX",
    "Bus",
    "Consumer",
    "DeliveryInfo",
    "Followed",
    "Handler",
    "KVEntry",
    "Replay",
    "RevisionConflictError",
    "Subscription",
    "TypedKV",
    "wait_all",
]
