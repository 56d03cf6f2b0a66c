"""`algopioneer up`: the local stack as supervised processes.

Start order: nats-server (from the wheel, JetStream in the data folder), then each service of the
profile that exists, in `services.stack` order. A service that exits unexpectedly is restarted with
exponential backoff and the restart is logged. On Ctrl-C or SIGTERM the services stop in reverse
order (each gets SIGTERM and time to drain), and NATS stops last, so no service is left hanging on
a dead server.

NATS users: the paper profile may run on the committed `<user>-local` passwords (the server listens
on 127.0.0.1 only and trades nothing real). The live profile never does: it generates per-install
passwords once (`shared.nats.install`, `data/nats/credentials.json`, mode 0600), renders the server
config from them, and gives each service only its own user's password; the CLI's goes into
`data/stack.json` (mode 0600).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import structlog

from services.risk.config import EXPLICIT_LIMITS
from services.stack import LIVE, ServiceEntry, service_env, services_for
from shared import stackguard as guard
from shared import streams, subjects
from shared.bus import Bus
from shared.config import NatsSettings, load_settings
from shared.errors import AlgopioneerError
from shared.messages import StrategySpec
from shared.nats import auth, install
from shared.natsserver import NatsServer
from shared.net import free_port
from shared.sdk.codestore import put_code
from shared.sdk.loader import StrategyLoadError
from shared.sdk.specs import expand_portfolio

_log = structlog.get_logger("launcher")
CONSOLE = "console"
"""The web console's stack entry: its password file lives in the stack's data folder."""
DEFAULT_PORTFOLIO = Path(__file__).resolve().parents[1] / "deploy" / "paper-portfolio.json"
PERMISSIONS_CONF = Path(auth.__file__).with_name("permissions.conf")
CLI_USER, ADMIN_USER = "cli", "admin"


def nats_user(entry: ServiceEntry) -> str:
    """The NATS user a service runs as (its stack entry says; both executions share `execution`)."""
    return entry.nats_user


LIVE_LIMITS: tuple[str, ...] = EXPLICIT_LIMITS
"""Risk limits a live stack must be given explicitly: the built-in ones are sized for paper."""


class _RiskStartupLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Only `risk.limits`, loaded the way risk loads its settings (its other settings are ignored)."""

    limits: dict[str, Any] = msgspec.field(default_factory=dict)


def missing_live_limits(environ: dict[str, str] | None = None) -> list[str]:
    """The `LIVE_LIMITS` that neither `ALGOPIONEER_RISK__LIMITS__<FIELD>` nor the `[risk.limits]`
    table of the `ALGOPIONEER_CONFIG` file sets (`ConfigError` if that file is unreadable)."""
    given = load_settings(_RiskStartupLimits, section="risk", environ=environ).limits
    return [name for name in LIVE_LIMITS if str(given.get(name, "")).strip() == ""]


STOP_GRACE_S = 10.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0
# What the paper stack streams from the simulator: spot for MA and pairs, a BTC future for basis.
PAPER_PRODUCTS = "BTC-USD,ETH-USD,SOL-USD,LTC-USD,BIP-20DEC30-CDE"


class LauncherError(AlgopioneerError):
    """The stack could not be brought up; the message says which part and where its log is."""


@dataclass
class Managed:
    """One supervised process and its restart bookkeeping."""

    entry: ServiceEntry
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    monitor: asyncio.Task[None] | None = field(default=None, repr=False)


class Launcher:
    """Runs the stack of one profile until asked to stop."""

    def __init__(
        self,
        data_dir: Path,
        *,
        profile: str = "paper",
        nats_port: int = 4222,
        entries: list[ServiceEntry] | None = None,
        portfolio: Path | None = None,
        nats_config: Path | None = None,
    ) -> None:
        if profile == LIVE and nats_config is not None:
            raise LauncherError("the live profile renders its own NATS config from per-install passwords")
        self.data_dir = data_dir.resolve()
        self.profile = profile
        self.portfolio = portfolio
        self.entries = entries if entries is not None else [e for e in services_for(profile) if e.available]
        # Per-service users: only risk may approve orders, only execution may consume them.
        self.nats = NatsServer(
            self.data_dir / "nats", port=nats_port, config_file=str(nats_config) if nats_config else None
        )
        self.managed: list[Managed] = []
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()
        self.venue_env: dict[str, str] = {}
        self.passwords: dict[str, str] = {}
        """Live: this install's generated NATS passwords (set when `run` starts)."""
        self.children: dict[str, guard.Proc] = {}
        """What `stack.json` and the watchdog know of: nats-server and each service's current PID."""
        self.watchdog: asyncio.subprocess.Process | None = None

    def password(self, user: str) -> str:
        """A NATS user's password on this stack's server."""
        if self.profile != LIVE:
            return auth.local_password(user)
        if user not in self.passwords:
            raise LauncherError(
                f"NATS user {user!r} has no password on the live server (shared/nats/auth.py)"
            )
        return self.passwords[user]

    @property
    def cli_credentials(self) -> tuple[str, str]:
        """What the CLI (and the dashboard) log in with."""
        return CLI_USER, self.password(CLI_USER)

    def _base_env(self, entry: ServiceEntry) -> dict[str, str]:
        # Compose passwords loaded from .env are other users' secrets: no service gets them.
        foreign = {auth.dotenv_var(u) for u in auth.USER_NAMES}
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("ALGOPIONEER_HTTP__") and k not in foreign
        }
        user = nats_user(entry)
        env.update(
            NATS_URL=self.nats.url,
            ALGOPIONEER_NATS__USER=user,
            ALGOPIONEER_NATS__PASSWORD=self.password(user),
            ALGOPIONEER_HTTP__PORT=str(entry.http_port),
            OTEL_SERVICE_NAME=entry.name,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.venue_env)
        env.update(service_env(entry, self.profile))
        if entry.name == CONSOLE:
            env.setdefault("ALGOPIONEER_CONSOLE__PASSWORD_FILE", str(self.data_dir / "console" / "password"))
        return env

    async def _spawn(self, managed: Managed) -> None:
        log_file = managed.log_path.open("ab")
        managed.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            managed.entry.module,
            *managed.args,
            env=managed.env,
            stdout=log_file,
            stderr=log_file,
            # Own session: Ctrl-C reaches only the launcher, which then stops services in order.
            start_new_session=True,
            # ... and the kernel stops it should the launcher die without doing so (kill -9).
            preexec_fn=guard.die_with(os.getpid()),
        )
        log_file.close()
        managed.started_at = time.monotonic()
        self._track(managed.entry.name, managed.process.pid)
        _log.info(
            "service_started", service=managed.entry.name, pid=managed.process.pid, log=str(managed.log_path)
        )

    async def _supervise(self, managed: Managed) -> None:
        """Restart on unexpected exit: 1 s, 2 s, 4 s … capped, reset after a stable minute."""
        while not self.stopping.is_set():
            assert managed.process is not None
            code = await managed.process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - managed.started_at > STABLE_AFTER_S:
                managed.restarts = 0
            delay = min(MAX_BACKOFF_S, 2.0**managed.restarts)
            managed.restarts += 1
            _log.warning(
                "service_crashed_restarting",
                service=managed.entry.name,
                exit_code=code,
                restart=managed.restarts,
                delay_s=delay,
                log=str(managed.log_path),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            await self._spawn(managed)

    async def _start_service(self, entry: ServiceEntry) -> Managed:
        args: list[str] = []
        if entry.name == "exchange-sim":
            args = self._simulator_args()
        managed = Managed(entry, args, self._base_env(entry), self.data_dir / "logs" / f"{entry.name}.log")
        await self._spawn(managed)
        managed.monitor = asyncio.create_task(self._supervise(managed), name=f"supervise-{entry.name}")
        self.managed.append(managed)
        if entry.name == "exchange-sim":
            self.venue_env = await self._wait_for_simulator()
        return managed

    def _simulator_args(self) -> list[str]:
        run_dir = self.data_dir / "sim"
        run_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (run_dir / "sim.json").unlink()
        # Ports chosen once: a restarted simulator comes back where its clients already point
        # (and keeps its CA and API key, which it reuses from the run directory).
        rest, ws = free_port(), free_port()
        return ["--run-dir", str(run_dir), "--host", "127.0.0.1", "--port", str(rest), "--ws-port", str(ws)]

    async def _wait_for_simulator(self, timeout_s: float = 30.0) -> dict[str, str]:
        """Read where the simulator listens and point the venue settings (and keys) at it."""
        info_path = self.data_dir / "sim" / "sim.json"
        deadline = time.monotonic() + timeout_s
        while not info_path.exists():
            if time.monotonic() > deadline:
                raise LauncherError(
                    f"exchange simulator did not write {info_path}; see {self.data_dir / 'logs' / 'exchange-sim.log'}"
                )
            await asyncio.sleep(0.1)
        info = json.loads(info_path.read_text())
        key = json.loads(Path(info["key_file"]).read_text())
        return {
            "ALGOPIONEER_VENUE__REST_HOST": info["rest_host"],
            "ALGOPIONEER_VENUE__WS_URL": info["ws_url"],
            "ALGOPIONEER_VENUE__WS_USER_URL": info.get("ws_user_url", info["ws_url"]),
            "ALGOPIONEER_VENUE__CA_FILE": info["ca_path"],
            "COINBASE_API_KEY": key["name"],
            "COINBASE_API_SECRET": key["privateKey"],
            "ALGOPIONEER_MARKETDATA__PRODUCTS": os.environ.get(
                "ALGOPIONEER_MARKETDATA__PRODUCTS", PAPER_PRODUCTS
            ),
            # Strategies price their edge with the fees the paper venue charges (US Intro tier).
            "ALGOPIONEER_STRATEGY__TAKER_FEE_RATE": "0.009",
            "ALGOPIONEER_STRATEGY__MAKER_FEE_RATE": "0.005",
        }

    async def _seed_portfolio(self, path: Path) -> None:
        """Start the default instances on a fresh stack (never over an operator's own specs). Plug-in
        entries are loaded and validated here, and their code stored before their specs."""
        try:
            entries = expand_portfolio(path.read_bytes(), base_dir=path.parent)
        except StrategyLoadError as exc:
            raise LauncherError(f"{path}: {exc}") from None
        bus = await self._connect(CLI_USER)
        try:
            kv = await bus.kv(subjects.KV_STRATEGY_SPECS, StrategySpec)
            if await kv.keys():
                _log.info("portfolio_kept", reason="specs already exist")
                return
            for entry in entries:
                if entry.code is not None:
                    await put_code(bus, entry.code.source, entry.code.filename)
                await kv.put(entry.spec.id, entry.spec)
            _log.info("portfolio_seeded", file=str(path), instances=[e.spec.id for e in entries])
        finally:
            await bus.close()

    async def _connect(self, user: str) -> Bus:
        settings = NatsSettings(url=self.nats.url, user=user, password=self.password(user))
        return await Bus.connect(settings, service="launcher")

    def _write_stack_file(self, *, running: bool = True) -> None:
        """`data/stack.json` tells CLI commands where the running stack's NATS and services are, and
        holds the CLI's password: owner-only (0600). Its PIDs with their command lines let the next
        `up` recognise this stack, or what it left behind (`shared.stackguard`)."""
        user, password = self.cli_credentials
        stack = {
            "nats_url": self.nats.url,
            "nats_user": user,
            "nats_password": password,
            "profile": self.profile,
            "services": {m.entry.name: m.entry.http_port for m in self.managed},
            "data_version": guard.DATA_VERSION,
            "launcher": asdict(guard.describe(os.getpid(), "launcher")) if running else None,
            "processes": [asdict(p) for p in self.children.values()] if running else [],
        }
        install.write_private(self.data_dir / "stack.json", json.dumps(stack, indent=2))

    def _track(self, name: str, pid: int) -> None:
        """Record a child just started, in `stack.json` and with the watchdog."""
        proc = guard.describe(pid, name)
        self.children[name] = proc
        if self.watchdog is not None and self.watchdog.stdin is not None:
            self.watchdog.stdin.write(guard.guard_line(proc))
        self._write_stack_file()

    async def _start_watchdog(self) -> None:
        """A process of its own session that stops our children if we die without stopping them."""
        log = (self.data_dir / "logs" / "watchdog.log").open("ab")
        self.watchdog = await asyncio.create_subprocess_exec(
            *guard.spawn_args(), stdin=asyncio.subprocess.PIPE, stdout=log, stderr=log, start_new_session=True
        )
        log.close()

    async def _release_watchdog(self) -> None:
        """A clean stop: tell the watchdog there is nothing left to do."""
        watchdog, self.watchdog = self.watchdog, None
        if watchdog is None or watchdog.stdin is None:
            return
        with contextlib.suppress(ConnectionError):
            watchdog.stdin.write(f"{guard.RELEASE}\n".encode())
            await watchdog.stdin.drain()
        watchdog.stdin.close()
        await watchdog.wait()

    def _ports(self) -> dict[str, int]:
        """The fixed ports this stack will listen on (NATS, each service's HTTP)."""
        return {"NATS": self.nats.port} | {f"{e.name} HTTP": e.http_port for e in self.entries}

    def _prepare_live_nats(self) -> None:
        """Live: this install's own passwords (generated on the first start) and the server config."""
        try:
            self.passwords, conf = install.prepare(self.nats.data_dir)
        except install.CredentialsError as exc:
            raise LauncherError(str(exc)) from None
        self.nats.config_file = str(conf)

    async def run(self) -> int:
        """Start everything, wait for a stop signal, stop everything in reverse order. Refuses
        (`guard.StackGuardError`) a folder a running stack or another data format holds, or a port
        another program holds; stops what a dead launcher of this folder left running."""
        try:
            notes = await asyncio.to_thread(guard.preflight, self.data_dir, self._ports())
        except guard.StackGuardError as exc:
            raise LauncherError(str(exc)) from None
        for note in notes:
            _log.warning("leftovers_stopped", detail=note)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        if self.profile == LIVE:
            self._prepare_live_nats()
        await self._start_watchdog()
        try:
            await asyncio.to_thread(self.nats.start)
            assert self.nats.process is not None
            self._track(guard.NATS_NAME, self.nats.process.pid)
            _log.info("nats_started", url=self.nats.url, data=str(self.nats.data_dir))
            # The first creator of a stream sets its configuration: do it as admin, before any service.
            admin = await self._connect(ADMIN_USER)
            await streams.provision(admin.js)
            await admin.close()
            skipped = [e.name for e in services_for(self.profile) if e not in self.entries]
            if skipped:
                _log.info("services_not_built_yet", services=skipped)
            for entry in self.entries:
                if self.stopping.is_set():
                    break
                await self._start_service(entry)
            self._write_stack_file()
            if self.portfolio is not None and not self.stopping.is_set():
                await self._seed_portfolio(self.portfolio)
            self.started.set()
            _log.info("stack_running", services=[m.entry.name for m in self.managed], stop="Ctrl-C")
            if any(m.entry.name == CONSOLE for m in self.managed):
                _log.info(
                    "console",
                    url=f"http://127.0.0.1:{os.environ.get('ALGOPIONEER_CONSOLE__PORT', '8089')}",
                    login=f"the first start's password is printed once in {self.data_dir / 'logs' / 'console.log'}",
                )
            await self.stopping.wait()
        finally:
            await self.shutdown()
        return 0

    async def shutdown(self) -> None:
        """Services first, newest first, each with time to drain; NATS last."""
        self.stopping.set()
        for managed in reversed(self.managed):
            await self._stop_process(managed)
        await asyncio.to_thread(self.nats.stop)
        if self.children:  # this launcher wrote stack.json: nothing of it runs any more
            self.children.clear()
            self._write_stack_file(running=False)
        await self._release_watchdog()
        _log.info("stack_stopped")

    async def _stop_process(self, managed: Managed) -> None:
        process = managed.process
        if managed.monitor is not None:
            managed.monitor.cancel()
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(process.wait(), STOP_GRACE_S)
            _log.info("service_stopped", service=managed.entry.name, exit_code=code)
        except TimeoutError:
            process.kill()
            await process.wait()
            _log.warning("service_killed", service=managed.entry.name, reason="did not stop in time")
