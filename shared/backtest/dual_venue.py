"""The simulated venue of the dual-leg backtest: fills the machine's orders, keeps the money.

It plays the part the execution service and the exchange play live: every `OrderRequest` the
machine emits is filled in full at the bar's price (slipped against us, fee charged on the filled
notional) and reported back with `machine.on_fill(...)` then `machine.on_order_done(...)`, exactly
the two events the live `TwoLegEngine` forwards. Orders the machine asks for in reaction (a hedge,
an unwind, an exit retry) are filled at once at the same prices. Cash and positions are Decimal
and come only from these fills, so the account is independent of the machine's own bookkeeping
(a test checks that the two agree).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from shared.backtest.dual_types import DualConfig, ExitReason, LegTrade, PairTrade
from shared.messages.base import Side
from shared.money import BPS, ZERO
from shared.strategies import DualLegMachine, OrderRequest, State, Step


@dataclass
class _LegEpisode:
    """One leg's fills since the book was last flat, split into opening and closing fills."""

    opened: Decimal = ZERO
    open_notional: Decimal = ZERO
    closed: Decimal = ZERO
    close_notional: Decimal = ZERO
    cash: Decimal = ZERO
    fees: Decimal = ZERO


@dataclass
class _Episode:
    entry_time: int
    direction: int
    legs: list[_LegEpisode] = field(default_factory=lambda: [_LegEpisode(), _LegEpisode()])


class DualVenue:
    """Cash, both legs' positions (order units) and the finished pair trades of one run."""

    def __init__(self, cfg: DualConfig, machine: DualLegMachine) -> None:
        self.cfg = cfg
        self.machine = machine
        self.fee = cfg.fee_bps / BPS
        self.slip = cfg.slippage_bps / BPS
        self.cash = cfg.capital
        self.pos = [ZERO, ZERO]
        self.trades: list[PairTrade] = []
        self.orders_filled = 0
        self.exit_reason: ExitReason = "signal"
        self._episode: _Episode | None = None
        self._seq = 0

    @property
    def flat(self) -> bool:
        """No position on either leg."""
        return self.pos[0] == ZERO and self.pos[1] == ZERO

    def equity(self, p1: Decimal, p2: Decimal) -> Decimal:
        """Cash plus both legs marked at `p1`, `p2` (a short leg counts negative)."""
        legs = self.cfg.legs
        return self.cash + legs[0].notional(self.pos[0], p1) + legs[1].notional(self.pos[1], p2)

    def note_step(self, step: Step) -> None:
        """Remember why the machine started exiting, for the trade's `exit_reason`."""
        if step.changed and step.state is State.EXITING:
            self.exit_reason = "stop_loss" if step.reason.startswith("stop_loss") else "signal"

    def execute(self, orders: tuple[OrderRequest, ...], raw: tuple[Decimal, Decimal], now: int) -> None:
        """Fill `orders` and every order the machine emits in reaction, at the legs' `raw` prices."""
        queue = deque(orders)
        while queue:
            order = queue.popleft()
            price, fee = self._book(order.leg, order.side, order.size, raw[order.leg - 1], now)
            self.orders_filled += 1
            self._seq += 1
            step = self.machine.on_fill(order.seq, order.size, price, fee, now, trade_id=f"bt-{self._seq}")
            self.note_step(step)
            queue.extend(step.orders)
            step = self.machine.on_order_done(order.seq, now, filled_size=order.size)
            self.note_step(step)
            queue.extend(step.orders)

    def liquidate(self, raw: tuple[Decimal, Decimal], now: int) -> None:
        """Close whatever is still open at `raw` (the last bar's closes), with fees and slippage.
        The machine is not told: the run is over, and the trade is marked `end_of_data`."""
        self.exit_reason = "end_of_data"
        for leg in (1, 2):
            pos = self.pos[leg - 1]
            if pos != ZERO:
                self._book(leg, Side.SELL if pos > ZERO else Side.BUY, abs(pos), raw[leg - 1], now)

    def _book(self, leg: int, side: Side, size: Decimal, raw: Decimal, now: int) -> tuple[Decimal, Decimal]:
        """Apply one fill to cash and position; returns (price, fee) as reported to the machine."""
        spec = self.cfg.legs[leg - 1]
        sign = side.sign
        price = raw * (1 + self.slip) if sign > 0 else raw * (1 - self.slip)
        notional = spec.notional(size, price)
        fee = notional * self.fee
        if self._episode is None:
            held = self.machine.direction
            self._episode = _Episode(now, int(held) if held is not None else (sign if leg == 1 else -sign))
        ep = self._episode.legs[leg - 1]
        opening = self.pos[leg - 1] == ZERO or (self.pos[leg - 1] > ZERO) == (sign > 0)
        if opening:
            ep.opened += size
            ep.open_notional += notional
        else:
            ep.closed += size
            ep.close_notional += notional
        ep.cash -= sign * notional
        ep.fees += fee
        self.cash -= sign * notional + fee
        self.pos[leg - 1] += sign * size
        if self.flat:
            self._close_episode(now)
        return price, fee

    def _close_episode(self, now: int) -> None:
        episode, self._episode = self._episode, None
        assert episode is not None
        legs: list[LegTrade] = []
        for k, (ep, spec) in enumerate(zip(episode.legs, self.cfg.legs, strict=True)):
            unit = spec.contract_size
            opening_side = episode.direction if k == 0 else -episode.direction
            legs.append(
                LegTrade(
                    product_id=spec.product_id,
                    side="buy" if opening_side > 0 else "sell",
                    size=ep.opened,
                    entry_price=ep.open_notional / (ep.opened * unit) if ep.opened else ZERO,
                    exit_price=ep.close_notional / (ep.closed * unit) if ep.closed else ZERO,
                    fees=ep.fees,
                    pnl=ep.cash - ep.fees,
                )
            )
        self.trades.append(
            PairTrade(
                entry_time=episode.entry_time,
                exit_time=now,
                direction=episode.direction,
                legs=(legs[0], legs[1]),
                exit_reason=self.exit_reason,
            )
        )
        self.exit_reason = "signal"
