"""Accounts, fee tier and CFM (futures) balance/positions."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from services.exchange_sim import cfm
from services.exchange_sim.http_util import json_response, not_found, paged, query_int
from services.exchange_sim.render import fmt, money, rfc3339
from services.exchange_sim.state import SimState
from shared.money import ZERO
from shared.venue import FUTURES_DEFAULT, Account, FeeTier

P = "/api/v3/brokerage"
_NS = uuid.UUID("6f1c7e52-7a5e-4c1b-9d0e-3b6a8c2f4d10")


def account_uuid(account_id: str, currency: str) -> str:
    """Stable wallet uuid per (account, currency)."""
    return str(uuid.uuid5(_NS, f"{account_id}/{currency}"))


class AccountRoutes:
    """Handlers for `/accounts`, `/transaction_summary` and `/cfm/...`."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    @property
    def _account(self) -> Account:
        return self.state.venue.account(self.state.account_id)

    def _wallet(self, currency: str) -> dict[str, Any]:
        acct = self._account
        created = rfc3339(self.state.now_ns())
        return {
            "uuid": account_uuid(acct.account_id, currency),
            "name": f"{currency} Wallet",
            "currency": currency,
            "available_balance": money(acct.available(currency), currency),
            "default": currency == "USD",
            "active": True,
            "created_at": created,
            "updated_at": created,
            "deleted_at": None,
            "type": "ACCOUNT_TYPE_FIAT" if currency in ("USD", "EUR", "GBP") else "ACCOUNT_TYPE_CRYPTO",
            "ready": True,
            "hold": money(acct.hold(currency), currency),
            "retail_portfolio_id": acct.account_id,
            "platform": "ACCOUNT_PLATFORM_CONSUMER",
        }

    def _wallets(self) -> list[dict[str, Any]]:
        return [self._wallet(c) for c in sorted(self._account.balances)]

    async def accounts(self, request: web.Request) -> web.Response:
        limit = min(query_int(request, "limit", 49) or 49, 250)
        page, cursor, has_next = paged(self._wallets(), request.query.get("cursor"), limit)
        return json_response({"accounts": page, "has_next": has_next, "cursor": cursor, "size": len(page)})

    async def account(self, request: web.Request) -> web.Response:
        wanted = request.match_info["account_uuid"]
        for wallet in self._wallets():
            if wallet["uuid"] == wanted:
                return json_response({"account": wallet})
        raise not_found("account not found")

    async def transaction_summary(self, request: web.Request) -> web.Response:
        fees = self.state.venue.fees
        futures = request.query.get("product_type") == "FUTURE"
        tier: FeeTier = fees.futures if futures else fees.spot
        volume = sum((f.price * f.size for f in self.state.venue.fills), ZERO)
        total_fees = sum((f.commission for f in self.state.venue.fills), ZERO)
        return json_response(
            {
                "total_volume": float(volume),
                "total_fees": float(total_fees),
                "fee_tier": {
                    # `FeeRates` names the account tier once; Coinbase names the futures tier apart
                    "pricing_tier": FUTURES_DEFAULT.pricing_tier if futures else tier.pricing_tier,
                    "usd_from": "0",
                    "usd_to": "10000",
                    "taker_fee_rate": str(tier.taker_fee_rate),
                    "maker_fee_rate": str(tier.maker_fee_rate),
                    "aop_from": "0",
                    "aop_to": "1000000",
                },
                "margin_rate": None,
                "goods_and_services_tax": None,
                "advanced_trade_only_volume": float(volume),
                "advanced_trade_only_fees": float(total_fees),
                "coinbase_pro_volume": 0,
                "coinbase_pro_fees": 0,
                "total_balance": fmt(self._account.balance("USD")),
                "has_promo_fee": False,
            }
        )

    async def positions(self, request: web.Request) -> web.Response:
        return json_response(
            {"positions": [cfm.position_json(self.state, p) for p in cfm.open_positions(self.state)]}
        )

    async def position(self, request: web.Request) -> web.Response:
        pid = request.match_info["product_id"]
        if pid not in self.state.venue.products:
            raise not_found("valid product_id is required")
        pos = self._account.positions.get(pid)
        if pos is None or pos.contracts == ZERO:
            raise not_found("position not found")
        return json_response({"position": cfm.position_json(self.state, pos)})

    async def balance_summary(self, request: web.Request) -> web.Response:
        figures = cfm.summary(self.state)
        body: dict[str, Any] = {k: money(v, "USD") for k, v in figures.items()}
        body.update(
            liquidation_buffer_percentage="0",
            total_pending_transfers_amount=money(ZERO, "USD"),
            funding_pnl=money(ZERO, "USD"),
            **cfm.windows(figures),
        )
        return json_response({"balance_summary": body})

    async def key_permissions(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "can_view": True,
                "can_trade": True,
                "can_transfer": False,
                "portfolio_uuid": self.state.account_id,
                "portfolio_type": "DEFAULT",
            }
        )

    def routes(self) -> list[web.RouteDef]:
        """Route table."""
        return [
            web.get(f"{P}/key_permissions", self.key_permissions),
            web.get(f"{P}/accounts", self.accounts),
            web.get(f"{P}/accounts/{{account_uuid}}", self.account),
            web.get(f"{P}/transaction_summary", self.transaction_summary),
            web.get(f"{P}/cfm/balance_summary", self.balance_summary),
            web.get(f"{P}/cfm/positions", self.positions),
            web.get(f"{P}/cfm/positions/{{product_id}}", self.position),
        ]
