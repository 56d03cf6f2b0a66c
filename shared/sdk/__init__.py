"""algopioneer's strategy SDK: `from shared.sdk import Strategy, Params, Context, ...`.

The whole public API is what this module exports: the strategy classes and event views of
`shared.sdk.api`, and the vocabulary types they use. Everything else in this package is the
framework that runs it (and may change).
"""

from shared.messages.base import Side
from shared.messages.orders import Liquidity, TimeInForce
from shared.messages.products import ProductInfo
from shared.messages.strategy import SignalAction
from shared.sdk.api import (
    Bar,
    Book,
    BookLevel,
    Context,
    Data,
    FillView,
    OrderState,
    OrderView,
    Params,
    PublicTrade,
    Strategy,
    Tick,
    TwoLegParams,
    TwoLegStrategy,
)
from shared.strategies.types import CostModel, Decision, Direction

__all__ = [
    "Bar",
    "Book",
    "BookLevel",
    "Context",
    "CostModel",
    "Data",
    "Decision",
    "Direction",
    "FillView",
    "Liquidity",
    "OrderState",
    "OrderView",
    "Params",
    "ProductInfo",
    "PublicTrade",
    "Side",
    "SignalAction",
    "Strategy",
    "Tick",
    "TimeInForce",
    "TwoLegParams",
    "TwoLegStrategy",
]
