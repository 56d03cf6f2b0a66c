"""Console settings (`ALGOPIONEER_CONSOLE__<FIELD>`): where the page is served and who may act.

The page is read-only for everyone who can reach it (localhost by default). Actions need a login:
the user's own proxy (`trusted_header`), else a password: `password_hash` when set, else the hash
in `password_file`, which the first start creates with a generated password it prints once.
"""

from __future__ import annotations

from shared.config import ServiceSettings


class ConsoleSettings(ServiceSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The console service: its page, its login, its links."""

    host: str = "127.0.0.1"
    """Where the page listens; containers set 0.0.0.0 (and publish the port on the host's loopback)."""
    port: int = 8089
    """The page's TCP port (0 picks a free one); `/health` and friends stay on `http.port`."""
    password_hash: str = ""
    """An scrypt hash (`python -m services.console.auth`) of the operator's password; wins over the file."""
    password_file: str = "data/console/password"  # noqa: S105 (a path)
    """Holds the password's hash (owner-only). Created on first start, when no hash is set, with a
    generated password printed once to the console's log; delete it for a new one."""
    trusted_header: str = ""
    """A header set by the user's own authenticating proxy (e.g. `X-Forwarded-User`): a request
    carrying it is logged in as its value and passwords are not used. Only behind such a proxy."""
    jaeger_url: str = "http://localhost:16686"
    """Jaeger's UI: an order links to `<jaeger_url>/trace/<trace id>`."""
    session_ttl_s: int = 12 * 3600
    """How long a login lasts."""
    push_interval_s: float = 0.5
    """Least time between two live updates to the page (messages in between are folded in)."""
    equity_every_s: float = 10.0
    """Spacing of the equity curve's points (the headline PnL is always the latest)."""
    kv_refresh_s: float = 5.0
    """How often services, specs and leases are re-read from KV (heartbeats expire, they do not delete)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if min(self.push_interval_s, self.equity_every_s, self.kv_refresh_s) <= 0:
            raise ValueError("push_interval_s, equity_every_s and kv_refresh_s must be positive")
        if self.session_ttl_s <= 0:
            raise ValueError("session_ttl_s must be positive")
        if self.password_hash and not self.password_hash.startswith("scrypt$"):
            raise ValueError("password_hash must be an scrypt hash (python -m services.console.auth)")
        if not self.jaeger_url.startswith(("http://", "https://")):
            raise ValueError("jaeger_url must start with http:// or https://")
