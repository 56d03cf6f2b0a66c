"""Pure strategy cores: no I/O, no asyncio, no clock (time comes in as int ns).

The live `strategy` service and the backtester run exactly this code.
"""

from shared.strategies.basis import (
    BasisCore,
    BasisSnapshot,
    gross_basis_bps,
    hedge_in_contracts,
    net_basis_bps,
)
from shared.strategies.dual_leg import DualLegMachine, Step
from shared.strategies.dual_leg_state import MachineState, State
from shared.strategies.dual_leg_strategy import DualLegSnapshot, DualLegStrategy
from shared.strategies.ma_crossover import MaCrossover, MaCrossoverSnapshot
from shared.strategies.pairs import PairsCore, PairsSnapshot
from shared.strategies.sizing import HedgeSizing, size_legs
from shared.strategies.types import (
    ZERO_COSTS,
    CostModel,
    Decision,
    Direction,
    LegSpec,
    OrderRequest,
    Quote,
)

__all__ = [
    "ZERO_COSTS",
    "BasisCore",
    "BasisSnapshot",
    "CostModel",
    "Decision",
    "Direction",
    "DualLegMachine",
    "DualLegSnapshot",
    "DualLegStrategy",
    "HedgeSizing",
    "LegSpec",
    "MaCrossover",
    "MaCrossoverSnapshot",
    "MachineState",
    "OrderRequest",
    "PairsCore",
    "PairsSnapshot",
    "Quote",
    "State",
    "Step",
    "gross_basis_bps",
    "hedge_in_contracts",
    "net_basis_bps",
    "size_legs",
]
