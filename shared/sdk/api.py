"""The public strategy API: everything a strategy file imports, and nothing else.

A strategy is one class in one file. It declares its parameters (a `Params` struct), the products
and market data it needs (`products()`, `data()`), reacts to events with plain methods, and asks
for orders through the `Context` it is handed. It never touches NATS, clocks or I/O: the framework
delivers events, keeps its position and orders from fills, snapshots its attributes, and gives
each order a client order id that stays unique across restarts and re-creations. The same class
runs in a backtest, on the paper stack and live.

Two kinds of strategy:
- `Strategy`: any number of products, any order type (market, limit GTC/IOC/FOK, post-only),
  cancel/replace, and framework-tracked stop-loss / take-profit exits (`Context.exits`).
- `TwoLegStrategy`: two products traded as one position by the framework's dual-leg machine
  (both legs sent together, partial fills hedged, a naked leg unwound within
  `TwoLegParams.max_unhedged_ms`); the strategy only supplies the signal.
"""

from __future__ import annotations

import abc
import enum
import typing
from decimal import Decimal
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import msgspec

from shared.messages.base import Side
from shared.messages.orders import Liquidity, TimeInForce
from shared.messages.products import ProductInfo
from shared.messages.strategy import DualLegParams, SignalAction
from shared.messages.strategy import Params as _Params
from shared.strategies.types import CostModel, Decision, Direction

Params = _Params
"""Base of a strategy's parameters: subclass it and declare typed fields with defaults.

Values are validated when the strategy is started or backtested: a wrong type or an unknown name
is refused with a message naming the field; raise `ValueError` in `__post_init__` for rules between
fields. Money is `Decimal`."""

TwoLegParams = DualLegParams
"""Base of a `TwoLegStrategy`'s parameters: the dual-leg machine's sizing (`notional` of leg 1),
timing (tick freshness, execution timeout, cooldowns, `max_unhedged_ms`), PnL gate, stop loss and
assumed slippage. Subclass it and add the signal's own fields."""


class Data(msgspec.Struct, frozen=True, kw_only=True):
    """The market data a strategy needs, for every product it trades.

    Bars are built from ticks on exchange time, one per `bars_s` bucket, delivered when the first
    tick of a later bucket arrives (a backtest delivers the bars it reads). Warm-up bars come from
    the venue's candles (`warmup_interval_s` must be a candle granularity: 60, 300, 900, 1800,
    3600, 7200, 21600 or 86400) and are folded in through the same methods with
    `Context.warming_up` true, when orders are refused."""

    ticks: bool = False
    """`on_tick` for every ticker update (a `TwoLegStrategy` always takes ticks)."""
    bars_s: int = 0
    """`on_bar` for every closed bar of this many seconds (0: no bars)."""
    book: bool = False
    """`on_book` with the top levels of each product's order book."""
    trades: bool = False
    """`on_trade` for each public trade of each product."""
    warmup_bars: int = 0
    """Closed bars of history to fold in before the first order (0: none)."""
    warmup_interval_s: int = 0
    """Length of the warm-up bars (0: `bars_s`, or 60 when there are no live bars)."""

    def __post_init__(self) -> None:
        if self.bars_s < 0 or self.warmup_bars < 0 or self.warmup_interval_s < 0:
            raise ValueError("bars_s, warmup_bars and warmup_interval_s cannot be negative")


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    """The best bid and offer and the last trade price of one product."""

    product_id: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    ts_ns: int
    """Exchange time (ns since the epoch)."""

    @property
    def mid(self) -> Decimal:
        """Halfway between bid and ask."""
        return (self.bid + self.ask) / 2


class Bar(msgspec.Struct, frozen=True, kw_only=True):
    """One closed bar (candle) of one product."""

    product_id: str
    start: int
    """Epoch seconds of the bar's first instant."""
    interval_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class BookLevel(msgspec.Struct, frozen=True, array_like=True):
    """One price level: price and resting size."""

    price: Decimal
    size: Decimal


class Book(msgspec.Struct, frozen=True, kw_only=True):
    """The top levels of one product's order book, best first."""

    product_id: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    ts_ns: int


class PublicTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A trade on the venue (anyone's); `side` is the taker's."""

    product_id: str
    price: Decimal
    size: Decimal
    side: Side
    ts_ns: int


class OrderState(enum.StrEnum):
    """Where one of the strategy's orders is. Terminal: filled, cancelled, expired, rejected
    (by the venue), refused (by risk) and unsendable (below the product's minimum)."""

    SENT = "sent"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REFUSED = "refused"
    UNSENDABLE = "unsendable"

    @property
    def is_terminal(self) -> bool:
        """No fill can follow."""
        return self not in _LIVE_STATES


_LIVE_STATES = frozenset({OrderState.SENT, OrderState.OPEN, OrderState.PARTIALLY_FILLED})


class OrderView(msgspec.Struct, frozen=True, kw_only=True):
    """One of the strategy's orders as the framework knows it (a copy: changing it changes nothing)."""

    id: str
    """Its client order id: deterministic, unique across restarts and re-creations."""
    product_id: str
    side: Side
    size: Decimal
    limit_price: Decimal | None
    """None: a market order."""
    time_in_force: TimeInForce
    post_only: bool
    state: OrderState
    filled: Decimal
    average_price: Decimal | None
    tag: str
    """The strategy's own label ('entry', 'quote-bid', ...); 'stop_loss' / 'take_profit' for the
    framework's exits."""
    reason: str = ""
    """Why it ended when it did not fill: the venue's or risk's reason code."""


class FillView(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of one of the strategy's orders (each trade id is delivered once)."""

    order_id: str
    product_id: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: Liquidity
    ts_ns: int
    tag: str


class Context(Protocol):
    """What a strategy sees and may do; handed to every event method. Orders are requests: the
    risk service may refuse them, and their outcome arrives later as `on_order` / `on_fill`."""

    @property
    def now_ns(self) -> int:
        """The time of the event being handled (ns): wall clock live, the bar's time in a backtest."""
        ...

    @property
    def warming_up(self) -> bool:
        """True while history is folded in: orders are refused then."""
        ...

    @property
    def costs(self) -> CostModel:
        """The venue's current fee tier (taker and maker bps) plus the strategy's slippage."""
        ...

    def product(self, product_id: str) -> ProductInfo:
        """The product's trading rules: increments, minimum size, contract size."""
        ...

    def price(self, product_id: str) -> Decimal | None:
        """The latest price seen (last trade, else mid); None before the first."""
        ...

    def position(self, product_id: str) -> Decimal:
        """Signed position from the strategy's own fills, in order units (contracts for futures)."""
        ...

    def open_orders(self, product_id: str | None = None) -> tuple[OrderView, ...]:
        """Orders not yet terminal, oldest first."""
        ...

    def order(self, order_id: str) -> OrderView | None:
        """One order by id (recent terminal ones included)."""
        ...

    def buy(
        self,
        product_id: str,
        size: Decimal,
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        tag: str = "",
    ) -> OrderView | None:
        """Buy `size` (rounded down to the product's size increment). Without `limit` a market
        order (IOC). A limit price must lie on the product's price grid (see `round_price`): an
        off-grid price raises `ValueError`. None when the size rounds below the product's minimum
        (the order is not sent; `on_order` is not called)."""
        ...

    def sell(
        self,
        product_id: str,
        size: Decimal,
        *,
        limit: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        tag: str = "",
    ) -> OrderView | None:
        """Sell; as `buy`."""
        ...

    def close(self, product_id: str, *, tag: str = "close") -> OrderView | None:
        """A market order that takes the position (from fills) back to zero; None when flat."""
        ...

    def cancel(self, order_id: str) -> bool:
        """Ask the venue to cancel an open order; False when it is not open. Its outcome (cancelled,
        or filled first) arrives as `on_order`."""
        ...

    def cancel_all(self, product_id: str | None = None) -> int:
        """Cancel every open order (of one product); how many were asked."""
        ...

    def replace(
        self, order_id: str, *, limit: Decimal | None = None, size: Decimal | None = None
    ) -> OrderView | None:
        """Cancel an open limit order and send a new one with the same side, tag and flags and the
        given price and/or size. Not atomic: the old order may fill before the cancel lands (that
        fill is delivered as usual). None when the old order is not open."""
        ...

    def exits(
        self, product_id: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None
    ) -> None:
        """Framework-tracked exits for the open position: when the price crosses `stop_loss` (below
        it for a long, above for a short) or reaches `take_profit`, the framework cancels the
        product's open orders and closes the position at market (tags 'stop_loss' / 'take_profit').
        Cleared when the position is flat; both None clears them."""
        ...

    def round_price(self, product_id: str, price: Decimal, side: Side) -> Decimal:
        """`price` on the product's grid, on the passive side (down for a buy, up for a sell)."""
        ...

    def signal(self, action: SignalAction, *, value: float = 0.0, reason: str = "") -> None:
        """Publish a signal for dashboards and the audit trail (no order is implied)."""
        ...

    def log(self, event: str, **fields: Any) -> None:
        """A structured log line, tagged with the instance (and kept by a backtest)."""
        ...


P = TypeVar("P", bound=Params)


class Strategy(Generic[P]):
    """Base of a strategy: subclass `Strategy[MyParams]` and override the methods you need.

    Every attribute set on `self` (except `params`) is the strategy's state: the framework
    snapshots it after each event that changed something (with `pickle`, so keep it to plain
    values, collections, Decimals and indicator objects) and restores it after a restart or a
    move to another worker. State saved by a different version of the class, or with different
    params, is dropped and the strategy warms up again; positions and orders are the framework's
    and are always kept."""

    params_type: ClassVar[type[Params]]
    """The `Params` subclass; taken from `Strategy[MyParams]` when not set."""

    def __init__(self, params: P) -> None:
        self.params = params

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params_type" in cls.__dict__:
            return
        for base in getattr(cls, "__orig_bases__", ()):
            args = typing.get_args(base)
            if args and isinstance(args[0], type) and issubclass(args[0], Params):
                cls.params_type = args[0]
                return

    # ---- declarations ----
    def products(self) -> tuple[str, ...]:
        """Every product the strategy trades or watches; by default the params' `product_id`."""
        product = getattr(self.params, "product_id", None)
        if not isinstance(product, str):
            raise TypeError("declare products(), or give the params a product_id field")
        return (product,)

    def data(self) -> Data:
        """The market data to deliver; by default every tick."""
        return Data(ticks=True)

    # ---- events ----
    def on_start(self, ctx: Context) -> None:
        """Once trading can begin (after warm-up), and again after each restart."""

    def on_tick(self, tick: Tick, ctx: Context) -> None:
        """A ticker update (when `data().ticks`)."""

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        """A closed bar (when `data().bars_s`), also during warm-up."""

    def on_book(self, book: Book, ctx: Context) -> None:
        """The top of a product's book changed (when `data().book`)."""

    def on_trade(self, trade: PublicTrade, ctx: Context) -> None:
        """A public trade (when `data().trades`)."""

    def on_fill(self, fill: FillView, ctx: Context) -> None:
        """One of the strategy's orders traded; the position already includes it."""

    def on_order(self, order: OrderView, ctx: Context) -> None:
        """One of the strategy's orders changed state (open, cancelled, rejected, refused, ...)."""


class TwoLegStrategy(Strategy[P], metaclass=abc.ABCMeta):
    """Two products traded as one position by the dual-leg machine: the strategy gives the signal,
    the framework sizes both legs (`notional` of leg 1, leg 2 by the hedge rule), sends them
    together, hedges partial fills, unwinds a naked leg, applies the PnL gate, stop loss and
    cooldowns of `TwoLegParams`, and closes with market orders. Direction LONG is long leg 1 and
    short leg 2."""

    hedge: ClassVar[Literal["notional", "base"]] = "notional"
    """How leg 2 is sized: equal notional times the decision's `hedge_ratio` (spreads), or the same
    base quantity (spot against its future)."""

    @abc.abstractmethod
    def legs(self) -> tuple[str, str]:
        """Leg 1 and leg 2."""

    def products(self) -> tuple[str, ...]:
        return self.legs()

    @abc.abstractmethod
    def signal(self, p1: Decimal, p2: Decimal, held: Direction | None, ctx: Context) -> Decision:
        """Decide on one synchronised pair of prices (mids): `Decision(action=ENTER_LONG,
        ENTER_SHORT, EXIT or HOLD, value=..., reason=..., hedge_ratio=...)`. `held` is the open
        direction (None when flat). Called on every fresh pair, also in warm-up (with the closes
        of warm-up bars) and while the machine is busy, so rolling windows stay warm."""
