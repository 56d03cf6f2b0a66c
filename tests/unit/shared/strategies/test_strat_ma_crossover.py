"""MA crossover: the original's crossover scenarios, one bar per interval, EMA option, snapshots."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pandas as pd
import pytest

from shared.messages.market import Candle
from shared.messages.strategy import MaCrossoverParams, SignalAction
from shared.strategies import MaCrossover

# Falls, rises sharply (golden cross), then falls sharply (death cross).
PRICES = [10, 9, 8, 7, 6, 5, 6, 9, 12, 14, 13, 9, 5, 4, 3]


def _params(**kw: object) -> MaCrossoverParams:
    base: dict[str, object] = {"product_id": "BTC-USD", "short_window": 2, "long_window": 4}
    base.update(kw)
    return MaCrossoverParams(**base)  # type: ignore[arg-type]


def _run(core: MaCrossover, prices: list[int], start: int = 0) -> list[tuple[int, SignalAction]]:
    out = []
    for i, p in enumerate(prices):
        d = core.on_bar(start + i * 60, Decimal(p))
        if d.action is not SignalAction.HOLD:
            out.append((i, d.action))
    return out


def test_golden_then_death_cross() -> None:
    assert _run(MaCrossover(_params()), PRICES) == [(7, SignalAction.BUY), (11, SignalAction.SELL)]


def test_signals_match_a_pandas_reference() -> None:
    """The original's batch rule on pandas rolling means, position-aware, from index long_window."""
    series = [float(p) for p in PRICES * 4]
    short = pd.Series(series).rolling(2).mean().tolist()
    long = pd.Series(series).rolling(4).mean().tolist()
    expected, open_ = [], False
    for i in range(4, len(series)):
        if not open_ and short[i - 1] <= long[i - 1] and short[i] > long[i]:
            expected.append((i, SignalAction.BUY))
            open_ = True
        elif open_ and short[i - 1] >= long[i - 1] and short[i] < long[i]:
            expected.append((i, SignalAction.SELL))
            open_ = False
    assert _run(MaCrossover(_params()), PRICES * 4) == expected


def test_no_signal_before_long_window_and_previous_value() -> None:
    core = MaCrossover(_params())
    reasons = [core.on_bar(i * 60, Decimal(p)).reason for i, p in enumerate([1, 2, 3, 4])]
    assert reasons == ["warming_up"] * 4


def test_no_crossover_on_a_monotonic_series() -> None:
    assert _run(MaCrossover(_params()), list(range(100, 130))) == []


def test_multiple_crossovers_alternate() -> None:
    signals = _run(MaCrossover(_params()), PRICES + PRICES[::-1] + PRICES)
    actions = [a for _, a in signals]
    assert actions[0] is SignalAction.BUY
    assert all(a is not b for a, b in itertools.pairwise(actions))
    assert actions.count(SignalAction.BUY) >= 2


def test_repeated_candle_is_ignored() -> None:
    """The original appended the latest candle on every poll; the same bar counted many times."""
    core = MaCrossover(_params())
    twin = MaCrossover(_params())
    for i, p in enumerate(PRICES[:8]):
        core.on_bar(i * 60, Decimal(p))
        twin.on_bar(i * 60, Decimal(p))
        assert twin.on_bar(i * 60, Decimal(p)).reason == "duplicate_bar"
    assert twin.snapshot() == core.snapshot()
    assert core.on_bar(5 * 60, Decimal(1)).reason == "out_of_order_bar"


def test_ema_option_signals_too() -> None:
    assert [a for _, a in _run(MaCrossover(_params(average="ema")), PRICES)] == [
        SignalAction.BUY,
        SignalAction.SELL,
    ]


def test_on_candle_uses_start_and_close() -> None:
    core = MaCrossover(_params())
    candle = Candle(
        venue="coinbase",
        product_id="BTC-USD",
        start=60,
        granularity_s=60,
        open=Decimal(1),
        high=Decimal(1),
        low=Decimal(1),
        close=Decimal(1),
        volume=Decimal(1),
    )
    assert core.on_candle(candle).reason == "warming_up"
    assert core.on_candle(candle).reason == "duplicate_bar"


def test_set_position_suppresses_buy() -> None:
    core = MaCrossover(_params())
    core.set_position(True)
    assert SignalAction.BUY not in [a for _, a in _run(core, PRICES)]


def test_short_must_be_below_long() -> None:
    with pytest.raises(ValueError, match="smaller"):
        _params(short_window=4, long_window=4)


@pytest.mark.parametrize("average", ["sma", "ema"])
@pytest.mark.parametrize("cut", [0, 3, 8, 11, 15])
def test_restore_then_continue_equals_never_stopped(average: str, cut: int) -> None:
    params = _params(average=average)
    series = PRICES * 3
    whole = _run(MaCrossover(params), series)
    first = MaCrossover(params)
    head = _run(first, series[:cut])
    resumed = MaCrossover.restore(params, first.snapshot())
    tail = [(i + cut, a) for i, a in _run(resumed, series[cut:], start=cut * 60)]
    assert head + tail == whole


def test_bad_close_is_refused_without_touching_the_averages() -> None:
    core = MaCrossover(_params())
    _run(core, PRICES[:6])
    before = core.snapshot()
    assert core.on_bar(10_000, Decimal("NaN")).reason == "bad_price"
    assert core.on_bar(10_000, Decimal(0)).reason == "bad_price"
    assert core.snapshot() == before
