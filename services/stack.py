"""The services that make up the stack, in start order: one table for the launcher, compose and k8s.

`algopioneer up` runs these as local processes; `deploy/docker-compose.yml` and `deploy/k8s/` must
run the same modules with the same service-specific environment (a test checks it). Each entry's
package exists or the launcher skips it, so the stack grows as services land.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

PAPER = "paper"
LIVE = "live"


@dataclass(frozen=True)
class ServiceEntry:
    """How to run one service."""

    name: str
    """Process, compose service and Kubernetes Deployment name."""
    module: str
    """Run as `python -m <module>`."""
    http_port: int
    """Local `/health`, `/ready`, `/metrics` port (containers all use 8080)."""
    profiles: tuple[str, ...] = (PAPER, LIVE)
    """Which stack profiles include it: paper (simulator + paper execution) and/or live."""
    env: dict[str, str] = field(default_factory=dict)
    """Service-specific settings that select its role (for example the execution mode)."""
    replicas: int = 1
    """Default replica count in compose and Kubernetes (strategy workers scale horizontally)."""

    @property
    def available(self) -> bool:
        """True once the service's package has a `__main__` to run."""
        try:
            return importlib.util.find_spec(f"{self.module}.__main__") is not None
        except ModuleNotFoundError:
            return False


CONTAINER_HTTP_PORT = 8080

STACK: tuple[ServiceEntry, ...] = (
    ServiceEntry("exchange-sim", "services.exchange_sim", 8090, profiles=(PAPER,)),
    ServiceEntry("marketdata", "services.marketdata", 8081),
    ServiceEntry("risk", "services.risk", 8083),
    ServiceEntry(
        "execution-paper",
        "services.execution",
        8084,
        profiles=(PAPER,),
        env={"ALGOPIONEER_EXECUTION__MODE": "paper"},
    ),
    ServiceEntry(
        "execution-coinbase",
        "services.execution",
        8084,
        profiles=(LIVE,),
        env={"ALGOPIONEER_EXECUTION__MODE": "live"},
    ),
    ServiceEntry("reconciliation", "services.reconciliation", 8085),
    ServiceEntry("strategy", "services.strategy", 8082, replicas=2),
)


def services_for(profile: str) -> list[ServiceEntry]:
    """The entries of one profile, in start order."""
    return [entry for entry in STACK if profile in entry.profiles]
