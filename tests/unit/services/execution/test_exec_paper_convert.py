"""The paper venue's pure helpers: the slippage model and venue-core → bus conversions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.execution.config import ExecutionSettings, PaperSettings
from services.execution.paper.convert import paper_fees, widen
from shared.config import load_settings
from shared.errors import ConfigError
from shared.messages import BookLevel, Liquidity
from shared.venue import US_INTRO, spot


def test_widen_moves_levels_away_from_the_mid_on_the_grid() -> None:
    levels = [
        BookLevel(price=Decimal("100.00"), size=Decimal(1)),
        BookLevel(price=Decimal(99), size=Decimal(0)),
    ]
    assert widen(levels, bids=True, slippage_bps=Decimal(0), increment=Decimal("0.01")) == [
        (Decimal("100.00"), Decimal(1))
    ]
    assert widen(levels, bids=True, slippage_bps=Decimal(15), increment=Decimal("0.01")) == [
        (Decimal("99.85"), Decimal(1))
    ]
    asks = [BookLevel(price=Decimal("100.00"), size=Decimal(2))]
    assert widen(asks, bids=False, slippage_bps=Decimal("0.5"), increment=Decimal("0.01")) == [
        (Decimal("100.01"), Decimal(2))
    ]


def test_default_fees_are_the_coinbase_intro_tier() -> None:
    schedule = paper_fees(PaperSettings())
    assert schedule.spot.maker_fee_rate == US_INTRO.maker_fee_rate
    assert schedule.spot.taker_fee_rate == US_INTRO.taker_fee_rate
    product = spot("BTC", "USD", "0.00000001", "0.01")
    assert schedule.fee(product, Decimal(1000), Liquidity.TAKER) == Decimal(9)


def test_product_info_carries_the_grid() -> None:
    info = spot("DOGE", "USD", "0.1", "0.00001").info("coinbase")
    assert (info.base_increment, info.price_increment, info.min_notional) == (
        Decimal("0.1"),
        Decimal("0.00001"),
        Decimal(1),
    )


def test_mode_is_chosen_by_setting() -> None:
    settings = load_settings(
        ExecutionSettings,
        section="execution",
        environ={
            "ALGOPIONEER_EXECUTION__MODE": "live",
            "ALGOPIONEER_EXECUTION__LIVE__PLACE_ATTEMPTS": "5",
            "ALGOPIONEER_VENUE__REST_HOST": "127.0.0.1:9",
        },
    )
    assert (settings.mode, settings.live.place_attempts, settings.venue.rest_host) == (
        "live",
        5,
        "127.0.0.1:9",
    )
    assert load_settings(ExecutionSettings, section="execution", environ={}).mode == "paper"
    with pytest.raises(ConfigError, match="mode"):
        load_settings(ExecutionSettings, section="execution", environ={"ALGOPIONEER_EXECUTION__MODE": "yolo"})
