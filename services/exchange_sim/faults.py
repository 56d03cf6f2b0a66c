"""Fault state the REST and WS layers consult. Mutated by the control API; all faults are opt-in."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.venue import Fill


@dataclass
class RestFault:
    """Fail the next `remaining` REST calls whose path starts with `path` with `status`."""

    status: int
    body: str = "json"  # "json" | "html" | "timeout"
    remaining: int = 1
    path: str = "/api/v3/brokerage"
    delay_s: float = 0.0


@dataclass
class AfterAcceptFault:
    """Accept (and match) the next `remaining` orders, then answer 5xx or stall: outcome unknown."""

    mode: str = "500"  # "500" | "503" | "timeout"
    remaining: int = 1
    delay_s: float = 5.0


@dataclass
class LateFillsFault:
    """The venue's fills numbered `first` .. `first + count - 1` (their `sequence`) stay out of the
    fills listing until `delay_s` after they happened, while their orders already show them filled."""

    first: int
    count: int = 1
    delay_s: float = 5.0

    def hides(self, fill: Fill, now_ns: int) -> bool:
        """True while this fill is still held back."""
        shown_ns = fill.time_ns + int(self.delay_s * 1_000_000_000)
        return self.first <= fill.sequence < self.first + self.count and now_ns < shown_ns


@dataclass
class Faults:
    """Everything injectable. `reset()` clears it between tests."""

    rest: list[RestFault] = field(default_factory=list)
    after_accept: AfterAcceptFault | None = None
    latency_s: float = 0.0
    rejects: list[tuple[str, int]] = field(default_factory=list)
    heartbeats_paused: bool = False
    oversize_l2_bytes: int = 0
    cancel_races: int = 0
    late_fills: list[LateFillsFault] = field(default_factory=list)

    def reset(self) -> None:
        """Back to a healthy venue."""
        self.rest.clear()
        self.after_accept = None
        self.latency_s = 0.0
        self.rejects.clear()
        self.heartbeats_paused = False
        self.oversize_l2_bytes = 0
        self.cancel_races = 0
        self.late_fills.clear()

    def shown(self, fill: Fill, now_ns: int) -> bool:
        """False while a late-fills fault holds this fill back from the fills listing."""
        return not any(fault.hides(fill, now_ns) for fault in self.late_fills)

    def take_rest(self, path: str) -> RestFault | None:
        """The REST fault that applies to this request, consuming one use."""
        for fault in self.rest:
            if path.startswith(fault.path) and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.rest.remove(fault)
                return fault
        return None

    def take_reject(self) -> str | None:
        """A forced rejection reason for the next order, if one is queued."""
        if not self.rejects:
            return None
        reason, count = self.rejects[0]
        if count <= 1:
            self.rejects.pop(0)
        else:
            self.rejects[0] = (reason, count - 1)
        return reason

    def take_after_accept(self) -> AfterAcceptFault | None:
        """The after-accept fault for this order, consuming one use."""
        fault = self.after_accept
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.after_accept = None
        return fault
