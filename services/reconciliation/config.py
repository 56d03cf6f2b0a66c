"""Reconciliation settings: one frozen Struct per concern, every field documented.

`ALGOPIONEER_RECONCILIATION__MODE=paper|live`, `..._INTERVAL_S`, `..._POLICY__POSITION_DIFFERENCE`…;
the venue table is shared (`ALGOPIONEER_VENUE__NAME` is the market, `..._REST_HOST`, `..._CA_FILE`).
Keys come from `CoinbaseCredentials` only (live mode).

The naked-leg bound. A dual-leg instance that its own machine no longer manages (halted by its
supervisor or a command, orphaned with no live lease, its spec stopped, deleted or moved to another
venue) and whose legs are unhedged is unwound by reconciliation at the latest
`max_unhedged_ms + naked_check_interval_s + one risk/execution round trip` after the fill that
made it naked (its `max_unhedged_ms` from the spec or its last snapshot, else
`default_max_unhedged_ms`). An orphaned instance is known as such only `lease_ttl_s` after its
worker last renewed the lease, so its bound is the later of the two. A running instance unwinds
its own legs within its `max_unhedged_ms`; reconciliation resolves it when it gives up. The age of
every naked leg is exported (`recon_naked_leg_seconds`, `recon_naked_leg_max_seconds`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from services.reconciliation.model import Policy
from shared import routing
from shared.config import ServiceSettings, VenueSettings

MODES = ("paper", "live")
_POLICIES = tuple(p.value for p in Policy)


def _decimal(name: str, value: str) -> Decimal:
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number") from None
    if not parsed.is_finite() or parsed < 0:
        raise ValueError(f"{name} must be a finite, non-negative decimal")
    return parsed


class PolicySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to do, beyond reporting, about differences no repair removes: alert, halt_strategy or
    corrective (an `OrderIntent` with Purpose.CORRECTIVE, decided by risk like any other)."""

    position_difference: str = "alert"
    """Ledger and venue quantity differ by more than dust (after missing fills were published)."""
    external_trade: str = "alert"
    """A venue fill of an order that never came through the system (it is adopted into the ledger
    under `external_strategy_id` when `adopt_external_fills`)."""
    unknown_open_order: str = "alert"
    """An open venue order no intent names; `corrective` is treated as `alert` (never cancel a
    human's order automatically)."""
    unhedged: str = "corrective"
    """An instance still imbalanced `max_unhedged_s` after resolving: `corrective` unwinds every
    leg, `halt_strategy` keeps it halted, `alert` only reports."""

    def __post_init__(self) -> None:
        for name in ("position_difference", "external_trade", "unknown_open_order", "unhedged"):
            if getattr(self, name) not in _POLICIES:
                raise ValueError(f"{name} must be one of {', '.join(_POLICIES)}")


class LiveReaderSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the live reader talks to Coinbase (or the simulator) through the SDK."""

    request_timeout_s: float = 10.0
    """Per-request HTTP timeout."""
    read_attempts: int = 3
    """Attempts per read (every read is idempotent)."""
    retry_delay_s: float = 0.5
    """Pause between attempts."""
    page_size: int = 100
    """Fills and orders per page."""
    products_refresh_s: float = 3600.0
    """How long the product catalogue (futures or spot, base currency, increments) is cached."""

    def __post_init__(self) -> None:
        if self.request_timeout_s <= 0 or self.read_attempts < 1 or self.retry_delay_s < 0:
            raise ValueError("request_timeout_s must be positive, read_attempts at least 1")
        if not 1 <= self.page_size <= 1000 or self.products_refresh_s <= 0:
            raise ValueError("page_size must be within 1..1000 and products_refresh_s positive")


class ReconSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The reconciliation service: where the venue is, how often to compare, what to do."""

    venue: VenueSettings = msgspec.field(default_factory=VenueSettings)
    """The market (`coinbase`) and, for live, where its API is."""
    mode: str = "paper"
    """`paper`: the market's paper venue (`coinbase-paper`: the paper account in KV `paper_account`);
    `live`: the market itself (REST through the SDK). See `execution_venue`."""
    paper_account_id: str = "paper"
    """The paper account's id (execution's `paper.account_id`)."""
    interval_s: float = 10.0
    """Seconds between cycles (one also runs at start); a live cycle costs about half a dozen REST
    calls, well inside the limits. Naked legs are checked apart, every `naked_check_interval_s`."""
    dust: str = "0.00000001"
    """Differences up to this (venue units) are rounding, not findings."""
    dust_by_product: dict[str, str] = msgspec.field(default_factory=dict)
    """Per-product (or per-currency for spot balances) dust overrides."""
    fill_grace_s: float = 5.0
    """Fills and order states younger than this are left to execution for one more cycle."""
    unknown_grace_s: float = 30.0
    """An `unknown` order the venue does not have after this long never landed: it is closed as
    rejected (`NOT_FOUND_AT_VENUE`)."""
    fills_lookback_s: float = 86_400.0
    """Where the fills cursor starts when KV `exec_state` holds none."""
    order_lookback_s: float = 86_400.0
    """How far back `list_orders` searches for an order by its client order id."""
    max_unhedged_s: float = 10.0
    """Longest an instance may stay imbalanced after resolving before the `unhedged` policy acts;
    also how long a Reconciling instance waits for its open orders before it is resolved anyway."""
    corrective_timeout_s: float = 60.0
    """A corrective intent without a terminal order event (or with fills still to come) is in
    flight this long: no second one. One that risk refused is in flight no more."""
    corrective_ttl_s: float = 5.0
    """A corrective intent's placement deadline (`expires_ns`): later, risk and execution refuse it."""
    naked_check_interval_s: float = 0.25
    """How often the ledger (followed live) is checked for naked legs, apart from the cycle."""
    naked_retry_s: float = 1.0
    """Least pause between two corrective intents of one instance (a refused one is not hammered)."""
    default_max_unhedged_ms: int = 5_000
    """The naked-leg bound of an instance whose spec and snapshot are both gone."""
    lease_ttl_s: float = 10.0
    """An instance whose lease in KV `worker_leases` has not been renewed for this long has no live
    worker (the strategy service's own `lease_ttl_s`)."""
    external_strategy_id: str = "external"
    """Strategy id under which outside trades are booked, and corrective orders without an owner."""
    adopt_external_fills: bool = True
    """Publish outside trades as fills (under `external_strategy_id`) so the ledger equals the venue."""
    spot_baseline: dict[str, str] = msgspec.field(default_factory=dict)
    """Seeds the holdings per spot currency (or futures product) that the system did not trade;
    when empty they are captured at the first cycle (venue minus ledger). Either way the baseline
    then lives in KV `exec_state` (`<venue>.recon`): delete that key to seed it again. Quote wallets
    (USD) are never compared; a crypto-quoted pair (ETH-BTC) would make its quote look moved."""
    catch_up_timeout_s: float = 5.0
    """How long a cycle waits for the ledger to have read every stored fill and event."""
    strategy_timeout_s: float = 2.0
    """Reply timeout of a strategy command (`resolve`, `halt`)."""
    status_max_age_s: float = 60.0
    """A strategy status older than this is forgotten (its instance was stopped or deleted)."""
    policy: PolicySettings = msgspec.field(default_factory=PolicySettings)
    """Policies per difference kind."""
    live: LiveReaderSettings = msgspec.field(default_factory=LiveReaderSettings)
    """Live-reader settings (mode = live)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if min(self.interval_s, self.catch_up_timeout_s, self.strategy_timeout_s, self.status_max_age_s) <= 0:
            raise ValueError(
                "interval_s, catch_up_timeout_s, strategy_timeout_s and status_max_age_s must be positive"
            )
        if min(self.corrective_ttl_s, self.naked_check_interval_s, self.lease_ttl_s) <= 0:
            raise ValueError("corrective_ttl_s, naked_check_interval_s and lease_ttl_s must be positive")
        if self.default_max_unhedged_ms < 0:
            raise ValueError("default_max_unhedged_ms must not be negative")
        routing.execution_venue(self.venue.name, self.mode)
        for name in (
            "fill_grace_s",
            "unknown_grace_s",
            "max_unhedged_s",
            "corrective_timeout_s",
            "naked_retry_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        _decimal("dust", self.dust)
        for key, value in {**self.dust_by_product, **self.spot_baseline}.items():
            _decimal(key, value)
        if not self.external_strategy_id:
            raise ValueError("external_strategy_id must not be empty")

    @property
    def execution_venue(self) -> str:
        """The venue reconciled: where this mode's orders are filled and its ledger is kept."""
        return routing.execution_venue(self.venue.name, self.mode)

    def dust_of(self, product_or_currency: str) -> Decimal:
        """The dust threshold of a product (or spot currency)."""
        return Decimal(self.dust_by_product.get(product_or_currency, self.dust))
