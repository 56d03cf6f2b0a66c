"""JetStream provisioning: the streams and KV buckets of `docs/architecture.md`.

Idempotent and safe to run from every service at start: an existing stream with the same config is
left alone, one with a different config is updated in place.
"""

from __future__ import annotations

import nats.js.errors
import structlog
from nats.js import JetStreamContext, api

from shared import subjects

_log = structlog.get_logger("streams")
_DAY_S = 86_400.0


def _stream_configs(replicas: int) -> list[api.StreamConfig]:
    """Audit streams keep 30 days; fills keep everything (PnL is rebuilt from them)."""

    def cfg(
        name: str,
        *,
        max_age_s: float = 30 * _DAY_S,
        dedupe_s: float = 120.0,
        work_queue: bool = False,
        per_subject: int = -1,
    ) -> api.StreamConfig:
        return api.StreamConfig(
            name=name,
            subjects=subjects.STREAM_SUBJECTS[name],
            retention=api.RetentionPolicy.WORK_QUEUE if work_queue else api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            max_age=max_age_s,
            max_msgs_per_subject=per_subject,
            duplicate_window=dedupe_s,
            num_replicas=replicas,
        )

    return [
        cfg(subjects.STREAM_INTENTS, dedupe_s=_DAY_S),
        cfg(subjects.STREAM_DECISIONS),
        # A repeated intent is never approved twice: the order id is the Nats-Msg-Id, kept a day.
        cfg(subjects.STREAM_APPROVED, work_queue=True, dedupe_s=_DAY_S),
        cfg(subjects.STREAM_CANCELS, work_queue=True, dedupe_s=600.0),
        cfg(subjects.STREAM_ORDER_EVENTS),
        cfg(subjects.STREAM_FILLS, max_age_s=0.0, dedupe_s=_DAY_S),
        cfg(subjects.STREAM_RECON, max_age_s=7 * _DAY_S),
        cfg(subjects.STREAM_STATUS, max_age_s=_DAY_S, per_subject=1),
    ]


# Leases expire unless heartbeated; everything else is kept until overwritten.
_BUCKET_TTL_S = {subjects.KV_WORKER_LEASES: 15.0, subjects.KV_SERVICES: 30.0}


async def provision(js: JetStreamContext, *, replicas: int = 1) -> None:
    """Create or update every stream and KV bucket the system uses."""
    for config in _stream_configs(replicas):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            # Exists with another configuration (for example an older max_age): update in place.
            await js.update_stream(config)
            _log.info("stream_updated", stream=config.name)
    for bucket in subjects.KV_BUCKETS:
        ttl = _BUCKET_TTL_S.get(bucket)
        try:
            await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            await js.create_key_value(
                config=api.KeyValueConfig(bucket=bucket, history=5, ttl=ttl, replicas=replicas)
            )
