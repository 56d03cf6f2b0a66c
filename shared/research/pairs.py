"""Pair discovery: which products move together closely enough to trade their spread.

For every pair of products this measures, on aligned log prices: the correlation; the Engle-Granger
cointegration test (statsmodels `coint`, both orderings, the better one kept, since the test is not
symmetric); the OLS hedge ratio of leg 1 on leg 2; and the half-life of the spread from an AR(1)
fit. Correlation alone is what the original ranked on, and two independent trending walks can be
highly correlated; cointegration is the property a z-score spread strategy actually relies on.

Pure: arrays in, results out. Loading files is in `shared.research.loading`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import msgspec
import numpy as np
import numpy.typing as npt
from statsmodels.tsa.stattools import coint

from shared.messages.strategy import PairsParams, StrategySpec

FloatArray = npt.NDArray[np.float64]
MIN_OBSERVATIONS = 30


@dataclass(frozen=True)
class PairStats:
    """One tested pair. leg1 is the dependent side: spread = ln p1 − hedge_ratio·ln p2 − intercept.

    `half_life_bars` is None when the spread does not mean-revert (AR(1) slope outside (−1, 0)).
    """

    leg1: str
    leg2: str
    observations: int
    correlation: float
    coint_t: float
    p_value: float
    hedge_ratio: float
    intercept: float
    half_life_bars: float | None
    spread_std: float


def hedge_ols(y: FloatArray, x: FloatArray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line y = slope·x + intercept."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    var = float(dx @ dx)
    if var <= 0.0:
        return float("nan"), float("nan")
    slope = float(dx @ (y - ym)) / var
    return slope, ym - slope * xm


def half_life(spread: FloatArray) -> float | None:
    """Bars for a deviation of the spread to halve, from Δs_t = a + b·s_{t−1}: −ln 2 / ln(1 + b).

    None when b is not in (−1, 0), i.e. the spread does not revert (or overshoots every bar).
    """
    if spread.size < 3:
        return None
    lagged = spread[:-1]
    delta = np.diff(spread)
    b, _ = hedge_ols(delta, lagged)
    if not math.isfinite(b) or not -1.0 < b < 0.0:
        return None
    return -math.log(2.0) / math.log1p(b)


def _one_way(y: FloatArray, x: FloatArray) -> tuple[float, float]:
    # statsmodels' default lag search goes to 12·(n/100)^¼ (25 lags at n = 2000) and dominates the
    # run time; 8 lags cover the short-memory residual dynamics of candle data.
    maxlag = min(8, int(12 * (y.size / 100) ** 0.25))
    t, p, _ = coint(y, x, trend="c", maxlag=maxlag, autolag="aic")
    return float(t), float(p)


def analyze_pair(leg1: str, y: FloatArray, leg2: str, x: FloatArray) -> PairStats:
    """Test one pair of aligned log-price series in both directions.

    The reported p-value is the *larger* of the two (cointegrated whichever leg is the dependent
    one): taking the better direction would double the false-positive rate on unrelated walks.
    The legs, t-statistic and hedge ratio come from the stronger direction.
    """
    t12, p12 = _one_way(y, x)
    t21, p21 = _one_way(x, y)
    p = max(p12, p21)
    if p21 < p12:
        leg1, leg2, y, x, t = leg2, leg1, x, y, t21
    else:
        t = t12
    beta, alpha = hedge_ols(y, x)
    spread = y - beta * x - alpha
    corr = float(np.corrcoef(y, x)[0, 1])
    return PairStats(
        leg1=leg1,
        leg2=leg2,
        observations=int(y.size),
        correlation=corr,
        coint_t=t,
        p_value=p,
        hedge_ratio=beta,
        intercept=alpha,
        half_life_bars=half_life(spread),
        spread_std=float(spread.std()),
    )


def scan_pairs(
    log_prices: dict[str, FloatArray],
    *,
    min_correlation: float = 0.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[PairStats]:
    """Test every pair of products (aligned arrays of equal length). Pairs whose absolute-value
    correlation is below `min_correlation` are skipped before the (slower) cointegration test."""
    names = sorted(log_prices)
    pairs = list(combinations(names, 2))
    out: list[PairStats] = []
    for done, (a, b) in enumerate(pairs, start=1):
        y, x = log_prices[a], log_prices[b]
        if y.size < MIN_OBSERVATIONS:
            raise ValueError(f"need at least {MIN_OBSERVATIONS} aligned observations, have {y.size}")
        if float(np.std(y)) > 0 and float(np.std(x)) > 0:
            corr = float(np.corrcoef(y, x)[0, 1])
            if corr >= min_correlation:
                out.append(analyze_pair(a, y, b, x))
        if on_progress:
            on_progress(done, len(pairs))
    return out


def select(
    stats: Sequence[PairStats],
    *,
    max_p_value: float = 0.05,
    max_half_life: float | None = None,
    top: int = 10,
) -> list[PairStats]:
    """Cointegrated, mean-reverting pairs, best (lowest p-value, then shortest half-life) first."""
    keep = [
        s
        for s in stats
        if s.p_value <= max_p_value
        and s.half_life_bars is not None
        and s.hedge_ratio > 0
        and (max_half_life is None or s.half_life_bars <= max_half_life)
    ]
    keep.sort(key=lambda s: (s.p_value, s.half_life_bars or math.inf))
    return keep[:top]


def suggested_window(stats: PairStats, lo: int = 20, hi: int = 1000) -> int:
    """A z-score window of about four half-lives (long enough for a stable mean), within [lo, hi]."""
    hl = stats.half_life_bars or hi
    return int(min(hi, max(lo, math.ceil(4 * hl))))


def spec_id(stats: PairStats) -> str:
    """A valid strategy id (letters, digits, '_' and '-', at most 64) naming both legs."""
    raw = f"pairs-{stats.leg1}-{stats.leg2}".lower()
    return re.sub(r"[^a-z0-9_-]", "_", raw)[:64]


def _unique_ids(stats: Sequence[PairStats]) -> list[str]:
    """Spec ids, made unique (the portfolio refuses duplicates) when truncation made two equal."""
    seen: set[str] = set()
    out = []
    for s in stats:
        base = ident = spec_id(s)
        n = 2
        while ident in seen:
            suffix = f"-{n}"
            ident = base[: 64 - len(suffix)] + suffix
            n += 1
        seen.add(ident)
        out.append(ident)
    return out


def to_specs(
    stats: Sequence[PairStats],
    *,
    window: int | None = None,
    entry_z: float = 2.0,
    exit_z: float = 0.5,
) -> list[StrategySpec]:
    """One pairs `StrategySpec` per selected pair, as `algopioneer portfolio --config` reads them."""
    return [
        StrategySpec(
            id=ident,
            params=PairsParams(
                leg1_id=s.leg1,
                leg2_id=s.leg2,
                window=window if window is not None else suggested_window(s),
                entry_z=entry_z,
                exit_z=exit_z,
            ),
        )
        for ident, s in zip(_unique_ids(stats), stats, strict=True)
    ]


def encode_specs(specs: Sequence[StrategySpec]) -> bytes:
    """The exact bytes of a portfolio config file: a JSON list of specs (msgspec's own encoding)."""
    return msgspec.json.format(msgspec.json.encode(list(specs)), indent=2) + b"\n"
