"""A local exchange speaking Coinbase Advanced Trade's real protocol (REST over TLS + WS), with faults.

In process: `async with ExchangeSim(SimConfig(run_dir=...)) as sim:`; as a process:
`python -m services.exchange_sim --run-dir DIR`. Matching, holds and fees live in `shared.venue`.
"""

from services.exchange_sim.config import SimConfig
from services.exchange_sim.sim import ExchangeSim

__all__ = ["ExchangeSim", "SimConfig"]
