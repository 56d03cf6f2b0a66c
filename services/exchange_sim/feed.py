"""The price source: each tick refreshes every product's liquidity around the model's mid and, at
random, prints a small trade, so market orders fill and the feed ticks. Optionally replays a file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from services.exchange_sim.market_model import MarketModel
from services.exchange_sim.state import SimState
from shared.messages import Side

log = structlog.get_logger()
PRINT_PROBABILITY = 0.3


class Replay:
    """Mid prices from a CSV/Parquet file with `time` (unix seconds), `product_id`, `price` columns."""

    def __init__(self, path: str, speed: float) -> None:
        import polars as pl

        frame = pl.read_parquet(path) if Path(path).suffix == ".parquet" else pl.read_csv(path)
        frame = frame.sort("time")
        self.rows: list[tuple[float, str, float]] = [
            (float(t), str(p), float(px))
            for t, p, px in zip(frame["time"], frame["product_id"], frame["price"], strict=True)
        ]
        self.speed = speed
        self.cursor = 0
        self.clock = self.rows[0][0] if self.rows else 0.0

    def advance(self, seconds: float, model: MarketModel) -> None:
        """Move file time forward and pin the model's mids to the rows passed."""
        self.clock += seconds * self.speed
        while self.cursor < len(self.rows) and self.rows[self.cursor][0] <= self.clock:
            _, pid, price = self.rows[self.cursor]
            model.set_mid(pid, price)
            self.cursor += 1


class PriceFeed:
    """Drives the venue from the model; products in `state.frozen` keep whatever book was pushed."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        products = list(state.venue.products.values())
        self.model = MarketModel(products, seed=state.config.seed)
        cfg = state.config
        self.replay = Replay(cfg.replay_file, cfg.replay_speed) if cfg.replay_file else None
        self.tick(step=False)

    def tick(self, *, step: bool = True) -> None:
        """One refresh: move mids, replace liquidity, maybe print trades, expire GTDs, publish."""
        state, venue, now = self.state, self.state.venue, self.state.now_ns()
        if step:
            if self.replay is not None:
                self.replay.advance(state.config.feed_interval_s, self.model)
            else:
                self.model.step()
        for pid in venue.products:
            if pid in state.frozen:
                continue
            bids, asks = self.model.levels(pid)
            venue.set_liquidity(pid, bids, asks, now)
            if step and self.model.coin() < PRINT_PROBABILITY:
                side = Side.BUY if self.model.coin() < 0.5 else Side.SELL
                venue.take_liquidity(pid, side, self.model.print_size(pid), None, now)
        venue.expire(now)
        state.publish()

    async def run(self) -> None:
        """Tick forever at the configured interval (skipping ticks while paused)."""
        while True:
            await asyncio.sleep(self.state.config.feed_interval_s)
            if self.state.feed_paused or not self.state.config.feed_enabled:
                self.state.venue.expire(self.state.now_ns())
                self.state.publish()
                continue
            try:
                self.tick()
            except Exception:  # a bad tick must not kill the feed
                log.exception("feed.tick_failed")
