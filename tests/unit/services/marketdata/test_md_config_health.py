"""Settings validation (errors name the field) and the feed-health rules behind `/ready`."""

from __future__ import annotations

import pytest

from services.marketdata.config import MarketDataSettings
from services.marketdata.health import FeedHealth
from shared.config import load_settings
from shared.errors import ConfigError

S = 1_000_000_000


def _load(**env: str) -> MarketDataSettings:
    environ = {f"ALGOPIONEER_MARKETDATA__{k.upper()}": v for k, v in env.items()}
    return load_settings(MarketDataSettings, section="marketdata", environ=environ)


def test_defaults_and_environment_overrides() -> None:
    settings = _load(products="BTC-USD, ETH-USD,BTC-USD", book_depth="5", source="synthetic")
    assert settings.product_ids == ("BTC-USD", "ETH-USD")
    assert settings.book_depth == 5
    assert settings.source == "synthetic"
    venue = load_settings(
        MarketDataSettings, section="marketdata", environ={"ALGOPIONEER_VENUE__WS_URL": "ws://127.0.0.1:9"}
    ).venue
    assert venue.ws_url == "ws://127.0.0.1:9"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"source": "kraken"}, "source"),
        ({"products": " , "}, "products"),
        ({"book_depth": "0"}, "book_depth"),
        ({"candle_page_size": "351"}, "candle_page_size"),
        ({"max_message_bytes": "1000"}, "max_message_bytes"),
        ({"source": "replay"}, "replay_file"),
        ({"synthetic_start_price": "NaN"}, "synthetic_start_price"),
        ({"reconnect_base_s": "60"}, "reconnect_base_s"),
        ({"stale_aftr_s": "1"}, "stale_aftr_s"),
    ],
)
def test_bad_settings_name_the_field(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(**env)
    assert error.value.field == field


def _health(heartbeats: bool = True) -> FeedHealth:
    return FeedHealth("coinbase", ("BTC-USD",), 3 * S, require_heartbeats=heartbeats)


def test_not_ready_until_connected_and_stale_without_heartbeats() -> None:
    health = _health()
    assert not health.ready(10 * S)
    health.on_connected(10 * S)
    assert health.ready(12 * S)  # grace from the connection's start
    health.last_message_ns = 13 * S  # data alone does not prove the subscription is alive
    assert not health.ready(14 * S)
    health.last_heartbeat_ns = 14 * S
    assert health.ready(16 * S)
    assert not health.ready(18 * S)


def test_sources_without_heartbeats_count_any_message() -> None:
    health = _health(heartbeats=False)
    health.on_connected(0)
    health.last_message_ns = 5 * S
    assert health.ready(7 * S)


def test_reconnects_count_every_connection_after_the_first_and_status_says_why() -> None:
    health = _health()
    health.on_connected(0)
    health.on_disconnected("closed by venue (1000)")
    status = health.status(1 * S)
    assert not status.connected
    assert status.stale
    assert status.reason == "closed by venue (1000)"
    health.on_connected(2 * S)
    assert health.reconnects == 1
    assert health.status(2 * S).reason == ""
    assert health.key(2 * S) != health.key(10 * S)  # going stale is a change
    assert health.status(10 * S).reason == "no heartbeat"
