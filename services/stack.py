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
    live_env: dict[str, str] = field(default_factory=dict)
    """Settings added in the live profile only (over `env`): what live asks of the service."""
    user: str = ""
    """NATS user it runs as; empty means its name (both executions share `execution`)."""

    @property
    def nats_user(self) -> str:
        """The NATS user of `shared/nats/auth.py` this service logs in as."""
        return self.user or self.name

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
    ServiceEntry(
        "risk",
        "services.risk",
        8083,
        # Live never trades on the built-in, paper-sized limits: risk refuses to start without them.
        live_env={"ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS": "true"},
    ),
    # Paper execution (venue `coinbase-paper`) runs in both profiles: on a live stack it fills paper
    # twins of live strategies on the same Coinbase feed.
    ServiceEntry(
        "execution-paper",
        "services.execution",
        8086,
        env={"ALGOPIONEER_EXECUTION__MODE": "paper"},
        user="execution",
    ),
    ServiceEntry(
        "execution-coinbase",
        "services.execution",
        8084,
        profiles=(LIVE,),
        env={"ALGOPIONEER_EXECUTION__MODE": "live"},
        user="execution",
    ),
    # Paper reconciles the paper account in KV; live reconciles the Coinbase account over REST.
    ServiceEntry(
        "reconciliation",
        "services.reconciliation",
        8085,
        live_env={"ALGOPIONEER_RECONCILIATION__MODE": "live"},
    ),
    # On a live stack the paper twins' venue gets its own reconciliation against the paper account.
    ServiceEntry(
        "reconciliation-paper",
        "services.reconciliation",
        8087,
        profiles=(LIVE,),
        env={"ALGOPIONEER_RECONCILIATION__MODE": "paper"},
        user="reconciliation",
    ),
    ServiceEntry("strategy", "services.strategy", 8082, replicas=2),
    # The web console's page is on its own port (`ALGOPIONEER_CONSOLE__PORT`, 8089); this one is health.
    ServiceEntry("console", "services.console", 8088),
    # Notifications (Apprise URLs in `ALGOPIONEER_NOTIFY__URLS`); read-only on the bus.
    ServiceEntry("notify", "services.notify", 8091),
)


def services_for(profile: str) -> list[ServiceEntry]:
    """The entries of one profile, in start order."""
    return [entry for entry in STACK if profile in entry.profiles]


def service_env(entry: ServiceEntry, profile: str) -> dict[str, str]:
    """The service-specific environment of an entry in one profile."""
    return entry.env | entry.live_env if profile == LIVE else dict(entry.env)
