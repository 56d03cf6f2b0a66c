"""The configured venue is the market; the mode picks the route the service serves."""

from __future__ import annotations

import pytest

from services.execution.config import ExecutionSettings
from services.execution.fence import EpochFence
from shared.config import VenueSettings


@pytest.mark.parametrize(("mode", "served"), [("paper", "coinbase-paper"), ("live", "coinbase")])
def test_the_mode_picks_the_venue_served_on_the_market(mode: str, served: str) -> None:
    settings = ExecutionSettings(mode=mode, venue=VenueSettings(name="coinbase"))
    assert settings.served_venue == served


def test_a_paper_venue_is_not_a_market() -> None:
    with pytest.raises(ValueError, match="market id"):
        ExecutionSettings(mode="paper", venue=VenueSettings(name="coinbase-paper"))


def test_clock_skew_defaults_to_a_second_and_is_never_negative() -> None:
    assert ExecutionSettings().clock_skew_ms == 1000
    with pytest.raises(ValueError, match="clock_skew_ms"):
        ExecutionSettings(clock_skew_ms=-1)


def test_the_epoch_floor_only_rises() -> None:
    fence = EpochFence()
    assert fence.raise_to(3, "test")
    assert not fence.raise_to(2, "test")
    assert not fence.raise_to(3, "test")
    assert fence.floor == 3
