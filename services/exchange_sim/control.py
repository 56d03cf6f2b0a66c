"""Fault injection and test control: plain methods (in-process) and `/_sim/...` JSON routes (no auth)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from aiohttp import web

from services.exchange_sim.faults import AfterAcceptFault, LateFillsFault, RestFault
from services.exchange_sim.feed import PriceFeed
from services.exchange_sim.http_util import bad_request, json_body, json_response
from services.exchange_sim.state import SimState
from services.exchange_sim.ws import WsHub
from shared.messages import Side
from shared.money import to_decimal
from shared.venue import apply_funding, settle_expired

CONTROL_PREFIX = "/_sim"


def _levels(raw: object) -> list[tuple[Decimal, Decimal]]:
    if not isinstance(raw, list):
        raise bad_request("levels must be a list of [price, size]")
    return [(to_decimal(p, field="price"), to_decimal(s, field="size")) for p, s in raw]


class SimControl:
    """Every injectable fault and state override, callable in-process or over HTTP."""

    def __init__(self, state: SimState, hub: WsHub, feed: PriceFeed) -> None:
        self.state, self.hub, self.feed = state, hub, feed
        self._catalogue = dict(state.venue.products)

    # REST faults
    def fail_rest(
        self,
        status: int,
        *,
        body: str = "json",
        count: int = 1,
        path: str = "/api/v3/brokerage",
        delay_s: float = 0.0,
    ) -> None:
        """Next `count` REST calls under `path` get `status` (429/5xx) with a JSON or HTML body, or
        (`body="timeout"`) stall `delay_s` first."""
        self.state.faults.rest.append(RestFault(status, body, count, path, delay_s))

    def fail_after_accept(self, mode: str = "500", *, count: int = 1, delay_s: float = 5.0) -> None:
        """Next `count` orders are accepted and matched, then the response is a 5xx or stalls."""
        self.state.faults.after_accept = AfterAcceptFault(mode, count, delay_s)

    def set_latency(self, ms: float) -> None:
        """Added latency on every REST call."""
        self.state.faults.latency_s = ms / 1000

    def reject_orders(self, reason: str, count: int = 1) -> None:
        """Reject the next `count` orders with this `new_order_failure_reason`."""
        self.state.faults.rejects.append((reason, count))

    def set_duplicate_mode(self, mode: str) -> None:
        """`return` the original order on a reused client_order_id, or `reject` it."""
        if mode not in ("return", "reject"):
            raise ValueError(mode)
        self.state.venue.duplicate_mode = "reject" if mode == "reject" else "return"

    def cancel_race(self, count: int = 1) -> None:
        """Next `count` cancels of resting orders report success, but the order fills instead."""
        self.state.faults.cancel_races += count

    def late_fills(self, *, delay_s: float = 5.0, count: int = 1) -> None:
        """The venue's next `count` fills appear in `GET /orders/historical/fills` only `delay_s`
        after they happened; their orders (REST and the user channel) show them filled at once."""
        if delay_s < 0 or count < 1:
            raise ValueError("late_fills needs delay_s >= 0 and count >= 1")
        fills = self.state.venue.fills
        first = fills[-1].sequence + 1 if fills else 1  # the venue numbers fills as they happen
        self.state.faults.late_fills.append(LateFillsFault(first, count, delay_s))

    # WS faults
    def ws_gap(self, skip: int = 1) -> None:
        """Skip `skip` sequence numbers on every connection."""
        self.hub.inject_gap(skip)

    def ws_out_of_order(self) -> None:
        """Swap the next two messages on every connection."""
        self.hub.inject_out_of_order()

    def pause_heartbeats(self, paused: bool = True) -> None:
        """Stop (or resume) heartbeats."""
        self.state.faults.heartbeats_paused = paused

    def ws_close(self, code: int = 1000) -> None:
        """Close every WS connection with this code."""
        self.hub.close_all(code)

    def ws_malformed(self) -> None:
        """Send a frame that is not JSON."""
        self.hub.send_malformed()

    def oversize_l2(self, nbytes: int = 5_000_000) -> None:
        """Pad the next level2 snapshot to about `nbytes`."""
        self.state.faults.oversize_l2_bytes = nbytes

    # state
    def set_balance(self, currency: str, amount: Decimal) -> None:
        """Set a wallet balance of the key's account."""
        self.state.venue.account(self.state.account_id).set_balance(currency, amount)

    def push_book(
        self,
        product_id: str,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        *,
        freeze: bool = True,
    ) -> None:
        """Replace the liquidity of a product; `freeze` stops the feed from overwriting it."""
        self.state.venue.product(product_id)
        if freeze:
            self.state.frozen.add(product_id)
        else:
            self.state.frozen.discard(product_id)
        self.state.venue.set_liquidity(product_id, bids, asks, self.state.now_ns())
        self.state.publish()

    def push_trade(self, product_id: str, side: Side, size: Decimal, price: Decimal | None = None) -> None:
        """An outside taker of `side` takes `size` (up to `price`): prints trades, fills resting orders."""
        self.state.venue.take_liquidity(product_id, side, size, price, self.state.now_ns())
        self.state.publish()

    def set_product(
        self,
        product_id: str,
        *,
        session_open: bool | None = None,
        trading_disabled: bool | None = None,
        cancel_only: bool | None = None,
        limit_only: bool | None = None,
    ) -> None:
        """Flip product flags: futures session open/closed, trading disabled, cancel-only, limit-only."""
        venue = self.state.venue
        p = venue.product(product_id)
        venue.products[product_id] = dataclasses.replace(
            p,
            session_open=p.session_open if session_open is None else session_open,
            trading_disabled=p.trading_disabled if trading_disabled is None else trading_disabled,
            cancel_only=p.cancel_only if cancel_only is None else cancel_only,
            limit_only=p.limit_only if limit_only is None else limit_only,
        )

    def funding(self, product_id: str, rate: Decimal | None = None) -> dict[str, Decimal]:
        """Charge one funding interval on a perp-style future at the current mark."""
        product = self.state.venue.product(product_id)
        if product.future is None:
            raise ValueError(f"{product_id} is not a future")
        mark = self.state.venue.books[product_id].mid() or self.state.venue.last_price.get(product_id)
        if mark is None:
            raise ValueError(f"{product_id} has no mark price")
        return apply_funding(self.state.venue, product_id, mark, rate or product.future.funding_rate)

    def settle(self, product_id: str, price: Decimal) -> dict[str, Decimal]:
        """Cash-settle a future at `price` (expiry) and mark it untradable."""
        result = settle_expired(self.state.venue, product_id, price, self.state.now_ns())
        self.set_product(product_id, trading_disabled=True)
        self.state.publish()
        return result

    def advance_time(self, seconds: float) -> None:
        """Move venue time forward (GTD expiry, candles, timestamps); JWTs still use the real clock."""
        self.state.time_offset_ns += int(seconds * 1_000_000_000)
        self.state.venue.expire(self.state.now_ns())
        self.state.publish()

    def pause_feed(self, paused: bool = True) -> None:
        """Stop (or resume) the price source."""
        self.state.feed_paused = paused

    def tick(self) -> None:
        """Run one price-source tick now."""
        self.feed.tick()

    def reset(self) -> None:
        """Clear every fault, unfreeze and restore products, resume the feed, real time, default
        duplicate mode."""
        self.state.faults.reset()
        self.state.frozen.clear()
        self.state.feed_paused = False
        self.state.venue.duplicate_mode = "return"
        self.state.venue.products.update(self._catalogue)
        self.state.time_offset_ns = 0

    # HTTP
    async def _dispatch(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        name = request.match_info["action"]
        try:
            self._call(name, body)
        except (KeyError, ValueError, TypeError) as exc:
            raise bad_request(f"{name}: {exc}") from None
        return json_response({"ok": True})

    def _call(self, name: str, b: dict[str, Any]) -> None:
        if name == "rest_fault":
            self.fail_rest(
                int(b["status"]),
                body=b.get("body", "json"),
                count=int(b.get("count", 1)),
                path=b.get("path", "/api/v3/brokerage"),
                delay_s=float(b.get("delay_s", 0)),
            )
        elif name == "after_accept":
            self.fail_after_accept(
                str(b.get("mode", "500")), count=int(b.get("count", 1)), delay_s=float(b.get("delay_s", 5))
            )
        elif name == "latency":
            self.set_latency(float(b["ms"]))
        elif name == "reject":
            self.reject_orders(str(b["reason"]), int(b.get("count", 1)))
        elif name == "duplicate_mode":
            self.set_duplicate_mode(str(b["mode"]))
        elif name == "cancel_race":
            self.cancel_race(int(b.get("count", 1)))
        elif name == "late_fills":
            self.late_fills(delay_s=float(b.get("delay_s", 5)), count=int(b.get("count", 1)))
        elif name == "ws_gap":
            self.ws_gap(int(b.get("skip", 1)))
        elif name == "ws_out_of_order":
            self.ws_out_of_order()
        elif name == "heartbeats":
            self.pause_heartbeats(bool(b.get("paused", True)))
        elif name == "ws_close":
            self.ws_close(int(b.get("code", 1000)))
        elif name == "ws_malformed":
            self.ws_malformed()
        elif name == "oversize_l2":
            self.oversize_l2(int(b.get("bytes", 5_000_000)))
        elif name == "balances":
            for currency, amount in b.items():
                self.set_balance(currency, to_decimal(amount, field=currency))
        elif name == "book":
            self.push_book(
                str(b["product_id"]),
                _levels(b.get("bids", [])),
                _levels(b.get("asks", [])),
                freeze=bool(b.get("freeze", True)),
            )
        elif name == "trade":
            price = b.get("price")
            self.push_trade(
                str(b["product_id"]),
                Side(str(b["side"]).upper()),
                to_decimal(b["size"], field="size"),
                to_decimal(price, field="price") if price is not None else None,
            )
        elif name == "product":
            flag = {
                k: (None if b.get(k) is None else bool(b[k]))
                for k in ("session_open", "trading_disabled", "cancel_only", "limit_only")
            }
            self.set_product(
                str(b["product_id"]),
                session_open=flag["session_open"],
                trading_disabled=flag["trading_disabled"],
                cancel_only=flag["cancel_only"],
                limit_only=flag["limit_only"],
            )
        elif name == "funding":
            rate = b.get("rate")
            self.funding(str(b["product_id"]), to_decimal(rate, field="rate") if rate is not None else None)
        elif name == "settle":
            self.settle(str(b["product_id"]), to_decimal(b["price"], field="price"))
        elif name == "advance_time":
            self.advance_time(float(b["seconds"]))
        elif name == "feed":
            self.pause_feed(bool(b.get("paused", True)))
        elif name == "tick":
            self.tick()
        elif name == "reset":
            self.reset()
        else:
            raise KeyError(f"unknown control action {name!r}")

    async def _state(self, request: web.Request) -> web.Response:
        acct = self.state.venue.account(self.state.account_id)
        return json_response(
            {
                "balances": {c: str(v) for c, v in acct.balances.items()},
                "holds": {c: str(v) for c, v in acct.holds.items()},
                "connections": len(self.hub.connections),
                "orders": len(self.state.venue.orders),
                "frozen": sorted(self.state.frozen),
                "feed_paused": self.state.feed_paused,
            }
        )

    def routes(self) -> list[web.RouteDef]:
        """`POST /_sim/{action}` with a JSON body; `GET /_sim/state`."""
        return [
            web.get(f"{CONTROL_PREFIX}/state", self._state),
            web.post(f"{CONTROL_PREFIX}/{{action}}", self._dispatch),
        ]
