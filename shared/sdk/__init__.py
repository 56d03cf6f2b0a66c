"""algopioneer's strategy SDK: `from shared.sdk import Strategy, Params, Context, ...`.

The whole public API is `shared.sdk.api`, re-exported here; everything else in this package is
the framework that runs it (and may change).
"""

from shared.sdk.api import (
    Bar,
    Book,
    BookLevel,
    Context,
    CostModel,
    Data,
    Decision,
    Direction,
    FillView,
    Liquidity,
    OrderState,
    OrderView,
    Params,
    ProductInfo,
    PublicTrade,
    Side,
    SignalAction,
    Strategy,
    Tick,
    TimeInForce,
    TwoLegParams,
    TwoLegStrategy,
)

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
