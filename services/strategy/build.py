"""Build an instance's engine from its spec, the products' rules and its last snapshot.

Restore rules: positions, open orders and the order sequence are *always* carried over (they are
facts about the venue and about client order ids already used); the signal core is restored only
when the params are unchanged, otherwise it starts again and re-warms. A retired snapshot (the spec
was deleted) keeps only the order sequence, so a re-created spec never reuses a client order id.
"""

from __future__ import annotations

from services.strategy.config import StrategySettings
from services.strategy.dual_engine import DualEngine, build_dual
from services.strategy.engine import Engine
from services.strategy.ma_engine import MaEngine
from shared.messages import FeeRates, ProductInfo
from shared.messages.snapshots import InstanceSnapshot, MaBook
from shared.messages.strategy import MaCrossoverParams, StrategySpec
from shared.money import ZERO
from shared.strategies import CostModel, DualLegSnapshot, MachineState, MaCrossover


def costs_for(
    spec: StrategySpec, settings: StrategySettings, infos: dict[str, ProductInfo], fees: FeeRates | None
) -> CostModel:
    """The venue's fee tier (the settings' until execution has published it) plus the instance's
    own slippage."""
    slippage = getattr(spec.params, "slippage_bps", None)
    slippage_bps = slippage if slippage is not None else ZERO
    legs = [infos[p] for p in spec.products if p in infos]
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
) -> tuple[Engine, bool]:
    """The engine and whether its signal core was restored warm (no candle warm-up needed)."""
    params = spec.params
    live = snap if snap is not None and not snap.retired else None
    same_params = live is not None and live.params == params
    next_seq = snap.next_seq if snap is not None else 1
    if isinstance(params, MaCrossoverParams):
        book = live.ma_book if live is not None and live.ma_book is not None else MaBook(next_seq=next_seq)
        core = None
        if same_params and live is not None and live.ma is not None:
            core = MaCrossover.restore(params, live.ma)
        engine = MaEngine(
            spec.id,
            params,
            infos[params.product_id],
            timeout_s=settings.ma_execution_timeout_s,
            core=core,
            book=book,
        )
        return engine, core is not None
    products = spec.products
    pair = (infos[products[0]], infos[products[1]])
    costs = costs_for(spec, settings, infos, fees)
    dual: DualLegSnapshot | None = None
    same_kind = live is not None and type(live.params) is type(params)
    if live is not None and live.dual is not None and same_kind:
        dual = live.dual
    elif snap is not None:
        dual = DualLegSnapshot(machine=MachineState(next_seq=next_seq))
    restore_core = dual is not None and same_params
    strategy = build_dual(params, pair, costs, dual, restore_core=restore_core)
    return DualEngine(spec.id, strategy, (products[0], products[1])), restore_core
