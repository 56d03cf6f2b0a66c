"""The engine of any `TwoLegStrategy` (built-in pairs and basis included): the latest quotes of both
legs feed the strategy's signal and the dual-leg machine; fills and terminal order events drive
the machine.

Ticks are taken latest-vs-latest: a burst on one leg is coalesced into one signal call, so a slow
instance sheds load instead of queueing stale prices. The quote's timestamp is the market-data
receive time, which is what the machine's freshness and skew checks expect.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

import msgspec

from services.strategy.engine import NOTHING, Outcome, coid_table
from shared.messages import ProductInfo
from shared.messages.market import BookUpdate, Candle, Ticker, Trade
from shared.messages.orders import Fill, OrderEvent
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import SignalAction
from shared.money import ZERO
from shared.sdk.api import TwoLegStrategy
from shared.sdk.context import LogLine
from shared.sdk.twoleg import TwoLegRunner, TwoLegSnapshot
from shared.strategies import CostModel, Decision, Quote, Step

_UNKNOWN_SEQ = -1
_NS = 1_000_000_000
_MAX_LOGS = 100


class TwoLegEngine:
    """One `TwoLegStrategy` instance. `restored_warm`: the strategy's own state came back from the
    snapshot (no candle warm-up needed). The strategy's `ctx.log` lines leave with the next
    outcome (the latest `_MAX_LOGS` of them)."""

    every_tick = False  # both legs are priced latest against latest

    def __init__(
        self,
        strategy_id: str,
        strategy: TwoLegStrategy[Any],
        infos: tuple[ProductInfo, ProductInfo],
        costs: CostModel,
        snap: TwoLegSnapshot | None = None,
        *,
        next_seq: int = 1,
    ) -> None:
        self.sid = strategy_id
        self._logs: deque[LogLine] = deque(maxlen=_MAX_LOGS)
        self.runner = TwoLegRunner(
            strategy_id, strategy, infos, costs, snap, next_seq=next_seq, sink=self._log
        )
        self.machine = self.runner.machine
        self.products: tuple[str, ...] = self.runner.products
        self.restored_warm = self.runner.restored_warm
        self._leg_of = {self.products[0]: 0, self.products[1]: 1}
        self._latest: list[Ticker | None] = [None, None]
        self._dirty = False
        self._coids: dict[str, int] = {}
        self._rebuild_coids()

    def _log(self, now_ns: int, event: str, fields: dict[str, Any]) -> None:
        self._logs.append(LogLine(event=event, fields=fields, ts_ns=now_ns))

    def _rebuild_coids(self) -> None:
        self._coids = coid_table(self.sid, [(r.seq, r.leg) for r in self.machine.st.orders])

    # ---- views ----
    @property
    def state(self) -> str:
        """The machine's state name."""
        return self.machine.state.value

    @property
    def positions(self) -> tuple[tuple[str, Decimal], ...]:
        """Both legs' signed positions from fills."""
        p1, p2 = self.machine.positions
        return ((self.products[0], p1), (self.products[1], p2))

    # ---- market data ----
    def on_ticker(self, ticker: Ticker) -> bool:
        """Keep the latest tick of the leg (priced lazily: a coalesced tick costs no arithmetic);
        ready when both legs have one."""
        leg = self._leg_of.get(ticker.product_id)
        if leg is None:
            return False
        latest = self._latest
        latest[leg] = ticker
        self._dirty = latest[0] is not None and latest[1] is not None
        return self._dirty

    def warm(self, candles: dict[str, list[Candle]]) -> int:
        """Feed the closes of candles both legs have (same start) to the signal, warming up; none
        when the strategy asks for no warm-up."""
        if self.runner.strategy.data().warmup_bars == 0:
            return 0
        second = {c.start: c.close for c in candles.get(self.products[1], [])}
        used = 0
        for candle in candles.get(self.products[0], []):
            other = second.get(candle.start)
            if other is not None:
                self.runner.warm(candle.start * _NS, candle.close, other)
                used += 1
        return used

    def on_market(self, message: BookUpdate | Trade) -> bool:
        """A two-leg strategy prices on tickers alone."""
        return False

    def process(self, now_ns: int) -> Outcome:
        """One signal on the latest quotes of both legs (quote = mid, stamped at receipt)."""
        if not self._dirty:
            return NOTHING
        self._dirty = False
        t1, t2 = self._latest
        if t1 is None or t2 is None:
            return NOTHING
        q1 = Quote(price=t1.mid, ts_ns=t1.receive_time_ns)
        q2 = Quote(price=t2.mid, ts_ns=t2.receive_time_ns)
        decision, step = self.runner.on_tick(now_ns, q1, q2)
        own = self.runner.take_signal()
        if own is not None and decision.action is SignalAction.HOLD:
            decision = own
        return self._outcome(step, decision)

    def _outcome(self, step: Step, decision: Decision | None = None) -> Outcome:
        if step.orders:
            self._coids.update(coid_table(self.sid, [(o.seq, o.leg) for o in step.orders]))
            if len(self._coids) > 4 * len(self.machine.st.orders) + 16:
                self._rebuild_coids()
        logs = tuple(self._logs)
        self._logs.clear()
        return Outcome(
            orders=step.orders,
            decision=decision,
            changed=step.changed or bool(step.orders),
            reason=step.reason,
            logs=logs,
        )

    # ---- execution feedback ----
    def seq_of(self, client_order_id: str) -> int | None:
        """Our sequence for a client order id."""
        return self._coids.get(client_order_id)

    def on_fill(self, fill: Fill, now_ns: int) -> Outcome:
        """An unknown order's fill goes to the machine too: it moves to Reconciling."""
        seq = self.seq_of(fill.client_order_id)
        step = self.machine.on_fill(
            _UNKNOWN_SEQ if seq is None else seq,
            fill.size,
            fill.price,
            fill.fee,
            now_ns,
            trade_id=fill.trade_id,
        )
        out = self._outcome(step)
        return msgspec.structs.replace(out, changed=out.changed or step.reason != "duplicate_fill")

    def on_order_event(self, event: OrderEvent, now_ns: int) -> Outcome:
        """Only terminal events matter: the machine then waits for every fill the venue reported."""
        seq = self.seq_of(event.client_order_id)
        if seq is None or not event.status.is_terminal:
            return NOTHING
        step = self.machine.on_order_done(seq, now_ns, filled_size=event.filled_size)
        return msgspec.structs.replace(self._outcome(step), changed=True)

    def on_order_unsendable(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Never sent: done with nothing filled (the machine hedges, unwinds or goes Flat)."""
        step = self.machine.on_order_done(seq, now_ns, filled_size=ZERO)
        return msgspec.structs.replace(self._outcome(step), changed=True)

    def on_order_refused(self, seq: int, now_ns: int, reason: str) -> Outcome:
        """Refused by risk: done with nothing filled, like an unsendable order, so a filled other
        leg is hedged or unwound now. A refusal of an order already done (redelivered, replayed)
        is ignored: it must not settle the machine a second time."""
        rec = next((r for r in reversed(self.machine.st.orders) if r.seq == seq), None)
        if rec is None or rec.done:
            return NOTHING
        step = self.machine.on_order_done(seq, now_ns, filled_size=ZERO)
        out = self._outcome(step)
        return msgspec.structs.replace(out, changed=True, reason=out.reason or f"refused:{reason}")

    def on_timer(self, now_ns: int) -> Outcome:
        """Execution and unhedged timeouts, exit retries."""
        return self._outcome(self.machine.on_timer(now_ns))

    def resolve(
        self, now_ns: int, positions: tuple[Decimal, ...], prices: tuple[Decimal, ...], reason: str
    ) -> Outcome:
        """The venue's quantities; marks default to the latest quotes, else the last traded prices."""
        if len(positions) != 2:
            return Outcome(reason="resolve_needs_two_positions")
        if len(prices) != 2:
            last = self.machine.st.last_prices
            prices = tuple(t.mid if t is not None else last[i] for i, t in enumerate(self._latest))
        step = self.machine.resolve(now_ns, positions[0], positions[1], (prices[0], prices[1]), reason)
        return self._outcome(step)

    def set_costs(self, costs: CostModel) -> None:
        """Entry thresholds (through `ctx.costs`), the PnL gate and the stop loss use the new tier."""
        self.runner.set_costs(costs)

    def halt(self, now_ns: int, reason: str) -> Outcome:
        """Only `resolve` leaves Halted."""
        return self._outcome(self.machine.halt(now_ns, reason or "halted"))

    def snapshot(self) -> TwoLegSnapshot:
        """Machine and strategy state."""
        return self.runner.snapshot()

    def snapshot_into(self, base: InstanceSnapshot) -> InstanceSnapshot:
        """`base` with `twoleg` set (the field the instance snapshot keeps a `TwoLegSnapshot` in)."""
        return msgspec.structs.replace(base, twoleg=self.runner.snapshot())
