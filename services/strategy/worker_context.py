"""What every slot of a worker shares: the bus, settings, the tick router and the snapshot bucket."""

from __future__ import annotations

from dataclasses import dataclass

from services.strategy.config import StrategySettings
from services.strategy.router import TickRouter
from shared.bus import Bus, TypedKV
from shared.messages.snapshots import InstanceSnapshot


@dataclass(frozen=True)
class WorkerContext:
    """Shared, read-only wiring of one worker."""

    bus: Bus
    settings: StrategySettings
    worker_id: str
    router: TickRouter
    snapshots: TypedKV[InstanceSnapshot]
