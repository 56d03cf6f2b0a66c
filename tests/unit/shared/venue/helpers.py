"""Helpers for the pure venue core tests: fixed time, request builders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.venue import OrderRequest, parse_order_request

NOW = 1_764_000_000 * 1_000_000_000  # 2025-11-24, fixed: the core has no clock
ME = "me"


def D(value: str | int) -> Decimal:
    return Decimal(value)


def req(config: dict[str, Any], side: str = "BUY", product: str = "BTC-USD", coid: str = "") -> OrderRequest:
    body = {"client_order_id": coid, "product_id": product, "side": side, "order_configuration": config}
    return parse_order_request(body, account_id=ME)


def limit(size: str, price: str, *, post_only: bool = False) -> dict[str, Any]:
    return {"limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": post_only}}


def market(*, base: str | None = None, quote: str | None = None) -> dict[str, Any]:
    inner = {k: v for k, v in (("base_size", base), ("quote_size", quote)) if v is not None}
    return {"market_market_ioc": inner}
