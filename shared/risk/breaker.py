"""Circuit breaker over execution outcomes: a pure, immutable state machine.

closed → open after `failure_threshold` consecutive failures, or when the share of failures among
the last `window_size` outcomes seen within `window_ms` reaches `error_rate` (judged only once at
least `min_outcomes` are in the window, so one early failure is not a 100% error rate).
open → half-open once `cooldown_ms` has passed since it opened. Half-open admits exactly one probe
order; its success closes the breaker, its failure reopens it. A probe that never reports within
`probe_timeout_ms` counts as failed, otherwise a lost probe would block trading for ever.

Every method returns a new `Breaker`; time is always passed in. Time-driven transitions are computed
from stored timestamps (never from when a method happens to be called), so replaying the same
outcomes at the same times always yields the same state. The Struct encodes as-is for KV.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from shared.errors import ConfigError
from shared.messages.checks import positive, positive_int
from shared.messages.risk import BreakerState

_NS_PER_MS = 1_000_000


class BreakerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When the breaker opens and how long it stays open. Defaults follow the original system (5, 60 s)."""

    failure_threshold: int = 5
    """Consecutive execution failures that open the breaker."""
    window_size: int = 20
    """How many of the most recent outcomes the error rate is judged on (M)."""
    window_ms: int = 60_000
    """Outcomes older than this are forgotten for the error rate (T)."""
    min_outcomes: int = 10
    """The error rate is only judged with at least this many outcomes in the window."""
    error_rate: Decimal = Decimal("0.5")
    """Failure share (0 < rate <= 1) among the window's outcomes that opens the breaker."""
    cooldown_ms: int = 60_000
    """Time open before one probe order is allowed through (half-open)."""
    probe_timeout_ms: int = 30_000
    """A probe without an outcome after this long counts as a failure."""

    def __post_init__(self) -> None:
        positive_int("breaker.failure_threshold", self.failure_threshold)
        positive_int("breaker.window_size", self.window_size)
        positive_int("breaker.window_ms", self.window_ms)
        positive_int("breaker.min_outcomes", self.min_outcomes)
        positive_int("breaker.cooldown_ms", self.cooldown_ms)
        positive_int("breaker.probe_timeout_ms", self.probe_timeout_ms)
        if self.min_outcomes > self.window_size:
            raise ConfigError("breaker.min_outcomes", "must be <= breaker.window_size")
        if positive("breaker.error_rate", self.error_rate) > 1:
            raise ConfigError("breaker.error_rate", f"must be <= 1, got {self.error_rate}")


class Outcome(msgspec.Struct, frozen=True, array_like=True):
    """One execution outcome: when it was recorded and whether it succeeded."""

    at_ns: int
    ok: bool


class Breaker(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Breaker state. Start with `Breaker()`; feed `admit` before each order, `record` after each outcome."""

    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    opened_ns: int = 0
    """When the breaker last opened (for the cooldown and for `RiskState.breaker_opened_ns`)."""
    probe_id: str = ""
    """client_order_id of the probe in flight while half-open; empty when none is."""
    probe_sent_ns: int = 0
    outcomes: tuple[Outcome, ...] = ()
    trips: int = 0
    """How many times the breaker has opened: a counter for metrics."""

    def at(self, now_ns: int, cfg: BreakerConfig) -> Breaker:
        """The state as of `now_ns`: applies the probe timeout and the cooldown."""
        current = self
        if current.state is BreakerState.HALF_OPEN and current.probe_id:
            timeout_at = current.probe_sent_ns + cfg.probe_timeout_ms * _NS_PER_MS
            if now_ns >= timeout_at:
                current = current._open(timeout_at, failed=True)
        if current.state is BreakerState.OPEN and now_ns - current.opened_ns >= cfg.cooldown_ms * _NS_PER_MS:
            current = msgspec.structs.replace(current, state=BreakerState.HALF_OPEN, probe_id="")
        return current

    def admit(self, now_ns: int, cfg: BreakerConfig, order_id: str) -> tuple[bool, Breaker]:
        """May `order_id` go out now? Returns the verdict and the state to keep if the order is sent.

        Half-open admits one probe and marks it in flight; every later call is refused until the
        probe's outcome arrives (or it times out). Refusals never change the stored state.
        """
        current = self.at(now_ns, cfg)
        if current.state is BreakerState.CLOSED:
            return True, current
        if current.state is BreakerState.HALF_OPEN and not current.probe_id:
            return True, msgspec.structs.replace(current, probe_id=order_id, probe_sent_ns=now_ns)
        return False, current

    def record(self, now_ns: int, cfg: BreakerConfig, *, ok: bool, order_id: str = "") -> Breaker:
        """Record one execution outcome and apply the transitions it causes.

        While half-open only the probe's own outcome (matched by `order_id`) decides: a late result
        of an order sent before the breaker opened must not close it.
        """
        current = self.at(now_ns, cfg)
        horizon = now_ns - cfg.window_ms * _NS_PER_MS
        kept = tuple(o for o in current.outcomes if o.at_ns > horizon)
        outcomes = (*kept, Outcome(now_ns, ok))[-cfg.window_size :]
        is_probe = current.state is BreakerState.HALF_OPEN and bool(order_id) and order_id == current.probe_id
        if ok:
            if is_probe:
                return Breaker(trips=current.trips)
            return msgspec.structs.replace(current, consecutive_failures=0, outcomes=outcomes)
        current = msgspec.structs.replace(
            current, consecutive_failures=current.consecutive_failures + 1, outcomes=outcomes
        )
        if is_probe:
            return current._open(now_ns, failed=False)
        if current.state is BreakerState.CLOSED and current._tripped(cfg):
            return current._open(now_ns, failed=False)
        return current

    def _tripped(self, cfg: BreakerConfig) -> bool:
        if self.consecutive_failures >= cfg.failure_threshold:
            return True
        if len(self.outcomes) < cfg.min_outcomes:
            return False
        failures = sum(1 for o in self.outcomes if not o.ok)
        return Decimal(failures) / Decimal(len(self.outcomes)) >= cfg.error_rate

    def _open(self, at_ns: int, *, failed: bool) -> Breaker:
        return msgspec.structs.replace(
            self,
            state=BreakerState.OPEN,
            opened_ns=at_ns,
            probe_id="",
            probe_sent_ns=0,
            consecutive_failures=self.consecutive_failures + (1 if failed else 0),
            trips=self.trips + 1,
        )
