"""Typed settings: defaults ← TOML file ← environment, validated once at start.

Every service declares a frozen `msgspec.Struct` that forbids unknown fields and embeds the common
parts below. `load_settings` merges, in order of precedence:

1. environment variables `ALGOPIONEER_<PATH>` where `__` separates nesting
   (`ALGOPIONEER_NATS__URL`, `ALGOPIONEER_HTTP__PORT`, `ALGOPIONEER_RISK__DAILY_LOSS_LIMIT`);
   `NATS_URL` is honoured as the conventional shortcut for the NATS address;
2. the TOML file named by `ALGOPIONEER_CONFIG` (or passed in): common tables (`[nats]`, `[http]`,
   `[log]`) and the service's own table (`[risk]`, `[marketdata]`, …) which overrides them;
3. the defaults in the Struct.

A wrong value raises `ConfigError` naming the field, e.g. `invalid config: http.port: Expected
`int`, got `str``. Coinbase credentials are never part of settings; see `CoinbaseCredentials`.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from shared.errors import ConfigError

S = TypeVar("S", bound=msgspec.Struct)
ENV_PREFIX = "ALGOPIONEER_"
_PATH_IN_ERROR = re.compile(r"- at `\$\.?([^`]*)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
# `__post_init__` checks word their messages "<field> must …"; lift the field into the path.
_LEADING_FIELD = re.compile(r"^([a-z][a-z0-9_]*) (must|cannot|is|and) ")


class NatsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to reach NATS."""

    url: str = "nats://127.0.0.1:4222"
    """Comma-separated server URLs."""
    user: str = ""
    """User name when the server requires user/password auth (the local stack does)."""
    password: str = ""
    """Password for `user`; never logged."""
    creds_file: str = ""
    """Path to a `.creds` file (NATS JWT auth, as used in Kubernetes)."""
    connect_timeout_s: float = 2.0
    """Give up on the first connection after about twice this long, with a clear error."""
    reconnect_wait_s: float = 0.5
    """Pause between reconnect attempts once connected."""
    max_reconnect_attempts: int = -1
    """-1 reconnects forever: a running service should ride out a NATS restart."""
    stream_replicas: int = 1
    """JetStream replicas for the streams and buckets this service provisions (3 in a cluster)."""

    def __post_init__(self) -> None:
        if not self.url.strip():
            raise ValueError("url must not be empty")
        if self.connect_timeout_s <= 0:
            raise ValueError("connect_timeout_s must be positive")
        if self.stream_replicas not in (1, 3, 5):
            raise ValueError("stream_replicas must be 1, 3 or 5")


class HttpSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where `/health`, `/ready` and `/metrics` are served."""

    host: str = "127.0.0.1"
    """Bind address; containers set 0.0.0.0."""
    port: int = 0
    """TCP port; 0 picks a free one (tests), the launcher and deploy files assign fixed ones."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")


class LogSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Logging."""

    level: str = "info"
    """One of debug, info, warning, error."""

    def __post_init__(self) -> None:
        if self.level.lower() not in ("debug", "info", "warning", "error"):
            raise ValueError("level must be one of debug, info, warning, error")


class VenueSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the Coinbase protocol is spoken: the real venue, or the exchange simulator.

    The launcher points these at the simulator in paper mode (from the simulator's `sim.json`).
    Keys never live here: see `CoinbaseCredentials`.
    """

    name: str = "coinbase"
    """Venue id used in subjects and messages."""
    rest_host: str = "api.coinbase.com"
    """`host[:port]` for the REST API; the SDK always uses https."""
    ws_url: str = "wss://advanced-trade-ws.coinbase.com"
    """Market-data WebSocket."""
    ws_user_url: str = "wss://advanced-trade-ws-user.coinbase.com"
    """User-order WebSocket (needs a JWT on subscribe)."""
    ca_file: str = ""
    """Extra CA to trust (the simulator's); empty uses the system store."""

    def __post_init__(self) -> None:
        if "://" in self.rest_host:
            raise ValueError("rest_host must be host[:port] without a scheme")
        if not self.ws_url.startswith(("ws://", "wss://")):
            raise ValueError("ws_url must start with ws:// or wss://")


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The part every service's settings share; service settings subclass it."""

    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


_COMMON_TABLES = ("nats", "http", "log", "venue")


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_path(target: dict[str, Any], path: list[str], value: str) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(".".join(path), "conflicts with a scalar value")
    target[path[-1]] = value


def _from_environment(section: str, environ: dict[str, str], common: tuple[str, ...]) -> dict[str, Any]:
    """Environment overrides as a nested dict (strings; msgspec converts them to the field types)."""
    data: dict[str, Any] = {}
    if environ.get("NATS_URL"):
        _set_path(data, ["nats", "url"], environ["NATS_URL"])
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        if path[0] == section.lower() and len(path) > 1:
            path = path[1:]
        elif path[0] not in common:
            continue  # another service's setting, or a common table this service has no use for
        _set_path(data, path, value)
    return data


def _from_toml(section: str, path: Path, common: tuple[str, ...]) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("ALGOPIONEER_CONFIG", f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("ALGOPIONEER_CONFIG", f"{path} is not valid TOML: {exc}") from None
    data = {k: v for k, v in raw.items() if k in common}
    own = raw.get(section, {})
    if not isinstance(own, dict):
        raise ConfigError(section, "must be a table")
    return _deep_merge(data, own)


def field_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's message into (dotted field path, problem)."""
    message = str(error)
    match = _PATH_IN_ERROR.search(message)
    path = match.group(1) if match else ""
    problem = _PATH_IN_ERROR.sub("", message).strip()
    unknown = _UNKNOWN_FIELD.search(problem)
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        problem = "unknown setting"
    leading = _LEADING_FIELD.match(problem)
    if leading:
        path = f"{path}.{leading.group(1)}" if path else leading.group(1)
    return path.replace("[", ".").replace("]", "") or "(root)", problem


def load_settings(
    settings_type: type[S],
    *,
    section: str,
    config_file: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
) -> S:
    """Build and validate a service's settings; raise `ConfigError` naming the bad field."""
    env = dict(os.environ if environ is None else environ)
    file_name = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    common = tuple(t for t in _COMMON_TABLES if t in settings_type.__struct_fields__)
    data: dict[str, Any] = _from_toml(section, Path(file_name), common) if file_name else {}
    data = _deep_merge(data, _from_environment(section, env, common))
    try:
        return msgspec.convert(data, settings_type, strict=False)
    except msgspec.ValidationError as exc:
        field, problem = field_of(exc)
        raise ConfigError(field, problem) from None


class CoinbaseCredentials:
    """The Coinbase CDP key, read from the environment or `.env`; its repr never shows the secret."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.api_key = api_key
        self._api_secret = api_secret

    def __repr__(self) -> str:
        return f"CoinbaseCredentials(api_key={self.api_key!r}, api_secret='[redacted]')"

    def reveal_secret(self) -> str:
        """The PEM private key, for the SDK client only."""
        return self._api_secret

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> CoinbaseCredentials | None:
        """Keys from `COINBASE_API_KEY`/`COINBASE_API_SECRET` (after loading `.env`), or None."""
        if environ is None:
            from dotenv import load_dotenv

            load_dotenv(override=False)
            environ = dict(os.environ)
        key = environ.get("COINBASE_API_KEY", "").strip()
        secret = environ.get("COINBASE_API_SECRET", "").replace("\\n", "\n").strip()
        if not key or not secret:
            return None
        return cls(key, secret)
