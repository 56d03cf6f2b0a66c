"""Build an instance's engine from its spec, the products' rules and its last snapshot.

Every instance runs a `shared.sdk` strategy class: the built-ins (MA crossover, pairs, basis) are
plug-ins like any user's. A `TwoLegStrategy` runs on the dual-leg machine (`TwoLegEngine`), any
other `Strategy` on the SDK runtime (`SdkEngine`).

Restore rules: positions, open orders and the order sequence are *always* carried over (they are
facts about the venue and about client order ids already used); the strategy's own state is
restored only into the same code and params (its fingerprint), otherwise it starts again and
re-warms. A retired snapshot (the spec was deleted) keeps only the order sequence, so a re-created
spec never reuses a client order id. Snapshots saved before the SDK runtime (`ma_book`, `dual`)
carry their positions, orders and sequence over.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.strategy.config import StrategySettings
from services.strategy.engine import Engine
from services.strategy.sdk_engine import SdkEngine, from_ma_snapshot
from services.strategy.twoleg_engine import TwoLegEngine
from shared.messages import FeeRates, ProductInfo
from shared.messages.snapshots import InstanceSnapshot
from shared.messages.strategy import MaCrossoverParams, PairsParams, PluginParams, StrategySpec
from shared.money import ZERO
from shared.sdk import specs
from shared.sdk.api import Strategy, TwoLegStrategy
from shared.sdk.book import SdkBook, SdkSnapshot
from shared.sdk.twoleg import TwoLegSnapshot
from shared.strategies import CostModel
from shared.strategies.basis_strategy import BasisStrategy
from shared.strategies.ma_strategy import MaCrossoverStrategy
from shared.strategies.pairs_strategy import PairsStrategy


def strategy_for(
    spec: StrategySpec, *, source: str | None = None, search_paths: Iterable[str | Path] = ()
) -> Strategy[Any]:
    """The strategy object a spec names. A plug-in is loaded (from `source`, its stored code, for
    a file reference) and its values validated again; `StrategyLoadError` says why not."""
    params = spec.params
    if isinstance(params, PluginParams):
        return specs.build(params, source=source, search_paths=search_paths)
    if isinstance(params, MaCrossoverParams):
        return MaCrossoverStrategy(params)
    if isinstance(params, PairsParams):
        return PairsStrategy(params)
    return BasisStrategy(params)


def costs_for(
    strategy: Strategy[Any], settings: StrategySettings, infos: dict[str, ProductInfo], fees: FeeRates | None
) -> CostModel:
    """The venue's fee tier (the settings' until execution has published it) plus the strategy's
    own slippage assumption (its params' `slippage_bps`, when it has one)."""
    slippage = getattr(strategy.params, "slippage_bps", None)
    slippage_bps = slippage if slippage is not None else ZERO
    legs = [infos[p] for p in strategy.products() if p in infos]
    if fees is not None and legs:
        return CostModel.of(fees, legs, slippage_bps=slippage_bps)
    return CostModel.from_rates(
        maker_rate=settings.maker_fee_rate, taker_rate=settings.taker_fee_rate, slippage_bps=slippage_bps
    )


def build_engine(
    spec: StrategySpec,
    infos: dict[str, ProductInfo],
    settings: StrategySettings,
    snap: InstanceSnapshot | None,
    fees: FeeRates | None = None,
    *,
    strategy: Strategy[Any] | None = None,
) -> tuple[Engine, bool]:
    """The engine and whether the strategy's state was restored warm (no candle warm-up needed).
    `strategy` is the loaded strategy (built from the spec when not given: built-ins)."""
    strategy = strategy if strategy is not None else strategy_for(spec)
    live = snap if snap is not None and not snap.retired else None
    next_seq = snap.next_seq if snap is not None else 1
    costs = costs_for(strategy, settings, infos, fees)
    if isinstance(strategy, TwoLegStrategy):
        p1, p2 = strategy.legs()
        pair = TwoLegEngine(
            spec.id, strategy, (infos[p1], infos[p2]), costs, _twoleg_snapshot(live), next_seq=next_seq
        )
        return pair, pair.restored_warm
    engine = SdkEngine.create(
        spec.id,
        strategy,
        infos,
        costs,
        timeout_s=settings.execution_timeout_s,
        snapshot=_sdk_snapshot(live, snap, next_seq),
    )
    return engine, engine.restored_warm


def _twoleg_snapshot(live: InstanceSnapshot | None) -> TwoLegSnapshot | None:
    if live is None:
        return None
    if live.twoleg is not None:
        return live.twoleg
    if live.dual is not None:  # saved before the SDK runtime: the machine carries over, the signal re-warms
        return TwoLegSnapshot(machine=live.dual.machine)
    return None


def _sdk_snapshot(
    live: InstanceSnapshot | None, snap: InstanceSnapshot | None, next_seq: int
) -> SdkSnapshot | None:
    if live is not None and live.sdk is not None:
        return live.sdk
    if live is not None and live.ma_book is not None and isinstance(live.params, MaCrossoverParams):
        return from_ma_snapshot(live.params, live.ma_book, live.ma)
    if snap is not None:
        return SdkSnapshot(book=SdkBook(next_seq=next_seq))
    return None
