"""Plain-data views of results for JSON output and tables (no I/O)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.backtest.dual_types import DualConfig
from shared.backtest.sdk_types import SdkConfig
from shared.backtest.types import BacktestConfig, BacktestResult, Metrics
from shared.money import plain


def iso(ns: int) -> str:
    """An epoch-ns time as ISO-8601 UTC with a trailing Z (what JSON consumers expect)."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(microsecond=(ns // 1000) % 1_000_000)
    return dt.isoformat().replace("+00:00", "Z")


def config_dict(cfg: BacktestConfig | DualConfig | SdkConfig) -> dict[str, Any]:
    """The config with Decimals as strings (exact), for the JSON output and summary files."""
    if isinstance(cfg, DualConfig):
        return cfg.as_dict()
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, Decimal):
            out[f.name] = plain(value)
        else:
            out[f.name] = value if isinstance(value, int | str) or value is None else str(value)
    return out


def metrics_dict(m: Metrics) -> dict[str, Any]:
    """Metrics as a flat dict; None stays None (JSON null) where a metric is undefined."""
    return dataclasses.asdict(m)


def result_summary(result: BacktestResult, *, with_trades: bool = True) -> dict[str, Any]:
    """The one JSON object `backtest --json` prints: metrics at the top level, plus trades."""
    out: dict[str, Any] = {"engine": result.engine, "config": config_dict(result.config)}
    out.update(metrics_dict(result.metrics))
    out.update(result.extra)
    if with_trades:
        trades = []
        for row in result.trades.with_columns(
            result.trades["entry_time"].dt.epoch("ns"), result.trades["exit_time"].dt.epoch("ns")
        ).iter_rows(named=True):
            row["entry_time"] = iso(row["entry_time"])
            row["exit_time"] = iso(row["exit_time"])
            trades.append(row)
        out["trades"] = trades
    return out
