"""A strategy's cancels of its own orders (`orders.cancel.<venue>.<strategy>`): what it may cancel.

Risk's cancels (`orders.cancel.<venue>`, a halt's cancel-all with its epoch) go to the adapter as
they are. A strategy's request is judged here first, because every strategy worker shares one NATS
user and the payload says whatever its sender likes:

* the strategy is the subject's last token, never the payload's `strategy_id`, and the payload's
  epoch is ignored (a strategy must not be able to raise the fence and stop everyone's orders);
* an empty id list is ignored: a strategy never cancels everything;
* an id recorded for another strategy is ignored (logged and counted);
* an id the venue has no record of yet (the cancel overtook its approval through risk) or that is
  being placed right now is remembered: the order is then answered `CANCELLED` instead of placed,
  or cancelled as soon as its placement returns. The memory is bounded and in process: a cancel
  that overtook its order just before a restart of execution is lost, and the strategy sees its
  order `ACCEPTED` and cancels again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

import msgspec
import structlog
from nats.js.errors import NotFoundError

from services.execution import metrics
from shared import subjects
from shared.bus import Bus
from shared.messages import CancelRequest, Order

_log = structlog.get_logger("execution.cancels")
_TOKENS = 4  # orders.cancel.<venue>.<strategy>


def cancel_subjects(venue: str) -> tuple[str, str]:
    """What the cancel durable of `venue` filters: risk's cancels, then every strategy's."""
    return subjects.cancel(venue), subjects.strategy_cancel(venue, subjects.ANY)


async def widen_durable(bus: Bus, durable: str, filters: tuple[str, ...]) -> None:
    """A cancel durable created before strategies could cancel filters risk's subject only, and an
    existing durable is bound as it is, never updated: delete it so it is created with both filters.
    Nothing is lost: CANCELS is a work queue, and the new durable delivers every message not acked."""
    try:
        info = await bus.js.consumer_info(subjects.STREAM_CANCELS, durable)
    except NotFoundError:
        return
    config = info.config
    current = config.filter_subjects or ([config.filter_subject] if config.filter_subject else [])
    if sorted(current) != sorted(filters):
        _log.warning("cancel_durable_recreated", durable=durable, filters=list(filters), was=current)
        await bus.js.delete_consumer(subjects.STREAM_CANCELS, durable)


def strategy_of(subject: str) -> str | None:
    """The strategy a cancel subject names, None for risk's own `orders.cancel.<venue>`."""
    parts = subject.split(".")
    return parts[-1] if len(parts) == _TOKENS else None


class StrategyCancels:
    """Judges strategies' cancel requests and remembers the ones that came before their order."""

    def __init__(self, owner: Callable[[str], Awaitable[str | None]], capacity: int = 10_000) -> None:
        self._owner = owner
        self._asked: OrderedDict[str, str] = OrderedDict()  # client order id -> asking strategy
        self._capacity = capacity

    async def judge(self, request: CancelRequest, strategy_id: str) -> CancelRequest | None:
        """The request narrowed to ids the strategy may cancel now (None: nothing to send)."""
        if not request.client_order_ids:
            metrics.STRATEGY_CANCELS.labels("empty").inc()
            _log.warning("strategy_cancel_without_ids_ignored", strategy_id=strategy_id)
            return None
        mine: list[str] = []
        for coid in dict.fromkeys(request.client_order_ids):
            owner = await self._owner(coid)
            if owner is not None and owner != strategy_id:
                metrics.STRATEGY_CANCELS.labels("other_strategy").inc()
                _log.warning(
                    "strategy_cancel_of_another_strategy_ignored",
                    strategy_id=strategy_id,
                    client_order_id=coid,
                    owner=owner,
                )
                continue
            self._remember(coid, strategy_id)  # placement may be under way: checked once it returns
            if owner is not None:
                mine.append(coid)
        if not mine:
            return None
        metrics.STRATEGY_CANCELS.labels("cancelled").inc(len(mine))
        return msgspec.structs.replace(
            request, client_order_ids=tuple(mine), strategy_id=strategy_id, epoch=0
        )

    def _remember(self, client_order_id: str, strategy_id: str) -> None:
        self._asked[client_order_id] = strategy_id
        self._asked.move_to_end(client_order_id)
        while len(self._asked) > self._capacity:
            self._asked.popitem(last=False)

    def asked(self, order: Order) -> bool:
        """True (once) when the order's own strategy asked to cancel it before or while it was
        placed; a request remembered from another strategy is dropped."""
        asker = self._asked.pop(order.client_order_id, None)
        if asker is None:
            return False
        if asker != order.strategy_id:
            metrics.STRATEGY_CANCELS.labels("other_strategy").inc()
            _log.warning(
                "strategy_cancel_of_another_strategy_ignored",
                strategy_id=asker,
                client_order_id=order.client_order_id,
                owner=order.strategy_id,
            )
            return False
        return True
