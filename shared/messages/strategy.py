"""Strategy instances: their specs (stored in KV), signals and status."""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from typing import Any, Literal

import msgspec

from shared import routing
from shared.messages.base import Message

_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PRODUCT_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class Mode(enum.StrEnum):
    """Paper instances route to the paper venue; live ones need keys and the live execution service."""

    PAPER = "paper"
    LIVE = "live"


class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every strategy's parameters (built-in or a plug-in's): frozen, keyword-only, and an
    unknown field is an error, so a typo in a spec or on the command line never passes silently."""


class MaCrossoverParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="ma_crossover"):
    """Moving-average crossover on bars of `interval_s` seconds (the original's `--duration`)."""

    product_id: str
    short_window: int = 5
    long_window: int = 20
    interval_s: int = 60
    order_size: Decimal = Decimal("0.001")
    average: Literal["sma", "ema"] = "sma"
    cross: Literal["strict", "touch"] = "strict"
    """strict: the short average must have been below (above) the long one and now be above (below);
    touch: a previous tie also counts (the original system's rule)."""

    def __post_init__(self) -> None:
        if self.short_window < 1:
            raise ValueError("short_window must be at least 1")
        if self.short_window >= self.long_window:
            raise ValueError("short_window must be smaller than long_window")
        if self.interval_s < 1:
            raise ValueError("interval_s must be at least 1")
        if not self.order_size.is_finite() or self.order_size <= 0:
            raise ValueError("order_size must be a positive number")


class DualLegParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What basis and pairs share: sizing, timing and the PnL gate (in bps of notional)."""

    notional: Decimal = Decimal("100")
    max_tick_age_ms: int = 2_000
    execution_timeout_ms: int = 30_000
    min_profit_bps: Decimal = Decimal("5")
    stop_loss_bps: Decimal = Decimal("-100")
    entry_cooldown_ms: int = 30_000
    exit_cooldown_ms: int = 30_000
    max_unhedged_ms: int = 5_000
    exit_retry_ms: int = 500
    """An incomplete exit is retried after this, doubling each time (3 tries: 0.5 s, 1 s, 2 s), so a
    burst of refusals (risk just restarted, a stale mark) does not use up every try at once."""
    slippage_bps: Decimal = Decimal("5")
    """Assumed adverse slippage per round trip, added to the fee tier's cost."""

    def __post_init__(self) -> None:
        self._check_common()

    def _check_common(self) -> None:
        if not self.notional.is_finite() or self.notional <= 0:
            raise ValueError("notional must be a positive number")
        if self.max_tick_age_ms <= 0 or self.execution_timeout_ms <= 0 or self.max_unhedged_ms <= 0:
            raise ValueError("max_tick_age_ms, execution_timeout_ms and max_unhedged_ms must be positive")
        if self.stop_loss_bps >= 0:
            raise ValueError("stop_loss_bps must be negative")
        if self.entry_cooldown_ms < 0 or self.exit_cooldown_ms < 0:
            raise ValueError("cooldowns cannot be negative")
        if self.exit_retry_ms < 0:
            raise ValueError("exit_retry_ms cannot be negative")
        if not self.slippage_bps.is_finite() or self.slippage_bps < 0:
            raise ValueError("slippage_bps must be a number, zero or more")


class BasisParams(DualLegParams, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="basis"):
    """Spot vs future carry: enter on net basis above `entry_bps`, exit on net basis below `exit_bps`."""

    spot_id: str
    future_id: str
    entry_bps: Decimal = Decimal("10")
    exit_bps: Decimal = Decimal("2")
    allow_reverse: bool = False

    def __post_init__(self) -> None:
        self._check_common()
        if self.spot_id == self.future_id:
            raise ValueError("spot_id and future_id must differ")
        if self.exit_bps >= self.entry_bps:
            raise ValueError("exit_bps must be below entry_bps")


class PairsParams(DualLegParams, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="pairs"):
    """Log-spread z-score stat-arb between two products."""

    leg1_id: str
    leg2_id: str
    window: int = 60
    entry_z: float = 2.0
    exit_z: float = 0.5
    hedge_ratio: Literal["ols", "kalman", "fixed"] = "ols"
    # Rolling-OLS hedge window (0 = same as `window`) and the Kalman option's noises and warm-up.
    hedge_window: int = 0
    kalman_q: float = 1e-5
    kalman_r: float = 1e-3
    kalman_warmup: int = 100

    def __post_init__(self) -> None:
        self._check_common()
        if self.leg1_id == self.leg2_id:
            raise ValueError("leg1_id and leg2_id must differ")
        if self.window < 5:
            raise ValueError("window must be at least 5")
        if self.hedge_window != 0 and self.hedge_window < 5:
            raise ValueError("hedge_window must be 0 (same as window) or at least 5")
        if not (self.kalman_q > 0 and self.kalman_r > 0) or self.kalman_warmup < 0:
            raise ValueError("kalman_q and kalman_r must be positive, kalman_warmup not negative")
        if not (0 <= self.exit_z < self.entry_z):
            raise ValueError("need 0 <= exit_z < entry_z")


class PluginParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="plugin"):
    """A strategy class written on the public SDK (`shared.sdk`), with its params as plain values.

    Everything a service other than the strategy worker needs is here, so risk, reconciliation and
    the CLI never run user code: the products the class declared for these values, and the class
    name (`kind`). The worker loads the class (`shared.sdk.loader`) and validates `values` again."""

    strategy: str
    """`path/to/file.py:Class`, `package.module:Class`, or an entry point name of group
    `algopioneer.strategies`."""
    code: str = ""
    """For a file reference: sha256 of the file's source, which is stored in KV `strategy_code`
    under this key, so every worker runs exactly the code that was validated. Empty: the worker
    reads the reference itself (a module, an entry point, or a file on its own disk)."""
    products: tuple[str, ...]
    """What `products()` returned for these values when the spec was written."""
    values: dict[str, Any] = msgspec.field(default_factory=dict)
    """The class's `Params` as JSON values (Decimals as strings)."""
    max_unhedged_ms: int = 0
    """A `TwoLegStrategy`'s naked-leg bound (its params' `max_unhedged_ms`); 0 for any other
    strategy. Reconciliation's naked-leg backstop reads it here, without loading user code."""

    def __post_init__(self) -> None:
        if self.max_unhedged_ms < 0:
            raise ValueError("max_unhedged_ms cannot be negative")
        if self.max_unhedged_ms and len(self.products) != 2:
            raise ValueError("only a two-leg strategy (two products) has a max_unhedged_ms")
        if not self.strategy.strip() or any(c.isspace() for c in self.strategy):
            raise ValueError("strategy must be a reference such as 'file.py:Class' (no spaces)")
        if self.code and not _CODE_PATTERN.match(self.code):
            raise ValueError("code must be empty or a sha256 (64 lowercase hex digits)")
        if not self.products:
            raise ValueError("products must name at least one product")
        bad = [p for p in self.products if not _PRODUCT_PATTERN.match(p)]
        if bad:
            raise ValueError(f"products must be product ids such as BTC-USD, not {bad[0]!r}")
        if len(set(self.products)) != len(self.products):
            raise ValueError("products must not repeat a product")

    @property
    def class_name(self) -> str:
        """The class a reference names (an entry point's own name stands for its class)."""
        return self.strategy.rpartition(":")[2]


StrategyParams = MaCrossoverParams | BasisParams | PairsParams | PluginParams


class StrategySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One strategy instance as stored in the `strategy_specs` KV bucket; validated on write."""

    id: str
    params: StrategyParams
    venue: str = "coinbase"
    """The market: where the instance's prices come from (`md.*.<venue>.*`)."""
    mode: Mode = Mode.PAPER
    """Paper orders go to the market's paper venue and live ones to the market itself (see
    `order_venue`); risk refuses an intent sent anywhere else."""
    enabled: bool = True
    order_ttl_ms: int = 5_000
    """How long after it is decided an order may still be placed; later it is refused (by risk as
    `STALE_INTENT`, by execution as expired), so a restart never sends a decision made on old prices."""

    def __post_init__(self) -> None:
        if not _ID_PATTERN.match(self.id):
            raise ValueError("id must be 1-64 characters of letters, digits, '_' or '-'")
        if not _ID_PATTERN.match(self.venue) or self.venue.endswith(routing.PAPER_SUFFIX):
            raise ValueError("venue must be a market id such as 'coinbase' (the mode picks paper or live)")
        if isinstance(self.order_ttl_ms, bool) or not 100 <= self.order_ttl_ms <= 3_600_000:
            raise ValueError("order_ttl_ms must be between 100 and 3600000")

    @property
    def order_venue(self) -> str:
        """The execution venue this instance's orders go to: `<venue>` live, `<venue>-paper` paper."""
        return routing.execution_venue(self.venue, str(self.mode))

    @property
    def kind(self) -> str:
        """The strategy type: a built-in's tag (`ma_crossover`, `basis`, `pairs`), a plug-in's class."""
        if isinstance(self.params, PluginParams):
            return self.params.class_name
        return type(self.params).__struct_config__.tag  # type: ignore[return-value]

    @property
    def products(self) -> tuple[str, ...]:
        """Every product this instance needs market data for."""
        p = self.params
        if isinstance(p, MaCrossoverParams):
            return (p.product_id,)
        if isinstance(p, BasisParams):
            return (p.spot_id, p.future_id)
        if isinstance(p, PairsParams):
            return (p.leg1_id, p.leg2_id)
        return p.products


class StrategyCode(Message, frozen=True, kw_only=True):
    """A plug-in strategy file's source, in KV `strategy_code` under its sha256 (`PluginParams.code`)."""

    source: str
    filename: str
    """The path it was read from (for messages and tracebacks)."""


class SignalAction(enum.StrEnum):
    """What a strategy core concluded on this input."""

    HOLD = "hold"
    BUY = "buy"
    SELL = "sell"
    ENTER_LONG = "enter_long"
    ENTER_SHORT = "enter_short"
    EXIT = "exit"


class Signal(Message, frozen=True, kw_only=True):
    """A non-hold decision, published for audit and dashboards; `value` is z-score or basis bps."""

    strategy_id: str
    action: SignalAction
    value: float = 0.0
    reason: str = ""
    signal_ns: int


class StrategyStatus(Message, frozen=True, kw_only=True):
    """Where an instance is and who runs it; published on every state change and periodically."""

    strategy_id: str
    kind: str
    worker_id: str
    state: str
    position: tuple[tuple[str, Decimal], ...] = ()
    last_signal: str = ""
    detail: str = ""
    status_ns: int
