"""What keeps `algopioneer up` from leaving a mess, or walking into one.

- Children die with the launcher, however it dies: on Linux each service asks the kernel for SIGTERM
  when its parent dies (`PR_SET_PDEATHSIG`), and a watchdog process (this module's `__main__`) holds
  a pipe from the launcher: when the pipe closes without a "release", the launcher is gone, and the
  watchdog stops what it was told about (services first, nats-server last), nats-server included.
- `data/stack.json` records the launcher's and every child's PID *and command line*: a later start
  recognises a running stack (refused, with how to reach or stop it) or the leftovers of a dead one
  (stopped, and said so), never a process that merely reuses a PID.
- `data/VERSION` stamps the data format; a folder another format wrote is refused with what to do.

Stdlib only (plus `shared.errors`): the watchdog starts in a blink.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from shared.errors import AlgopioneerError

DATA_VERSION = 1
"""Format of the data folder (JetStream streams and buckets, files): raise it when an older folder
can no longer be read as is."""
VERSION_FILE = "VERSION"
STACK_FILE = "stack.json"
NATS_NAME = "nats-server"
STOP_GRACE_S = 10.0
RELEASE = "release"
_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = (
    ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
)


class StackGuardError(AlgopioneerError):
    """Starting here would collide with something: a running stack, a taken port, stale data."""


@dataclass(frozen=True)
class Proc:
    """A process of a stack, recognised by PID and command line together."""

    name: str
    pid: int
    cmdline: str

    def alive(self) -> bool:
        """Still running the same program (a reused PID runs another one)."""
        return cmdline(self.pid) == self.cmdline


def cmdline(pid: int) -> str | None:
    """The command line of a live process; None when it is gone (or a zombie)."""
    if Path("/proc/self").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") or None
    found = subprocess.run(  # noqa: S603 - no /proc (macOS): ask ps
        ["/bin/ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or None


def describe(pid: int, name: str) -> Proc:
    """A process just started, as `stack.json` records it."""
    return Proc(name, pid, cmdline(pid) or "")


def die_with(parent: int) -> Callable[[], None]:
    """A `preexec_fn`: the kernel sends the child SIGTERM when `parent` dies (Linux only)."""

    def preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # it died between fork and prctl
                os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _signal(proc: Proc, sig: signal.Signals) -> None:
    """To the process group when the process leads one (our children do): its own children too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)


def _wait_gone(procs: Iterable[Proc], timeout_s: float) -> list[Proc]:
    """Those still alive after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    left = [p for p in procs if p.alive()]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if p.alive()]
    return left


def stop_processes(procs: Iterable[Proc], grace_s: float = STOP_GRACE_S) -> list[Proc]:
    """SIGTERM services together, then nats-server (services drain against a live server); SIGKILL
    whatever outlives the grace. Returns those that were alive."""
    alive = [p for p in procs if p.alive()]
    for phase in ([p for p in alive if p.name != NATS_NAME], [p for p in alive if p.name == NATS_NAME]):
        for proc in phase:
            _signal(proc, signal.SIGTERM)
        for proc in _wait_gone(phase, grace_s):
            _signal(proc, signal.SIGKILL)
        _wait_gone(phase, 2.0)
    return alive


# ---------------------------------------------------------------- data/stack.json


def read_stack(data_dir: Path) -> dict[str, Any]:
    """`data/stack.json`, or {} when absent or unreadable."""
    try:
        stack = json.loads((data_dir / STACK_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return stack if isinstance(stack, dict) else {}


def stack_processes(stack: dict[str, Any]) -> tuple[Proc | None, list[Proc]]:
    """The launcher and its children as `stack.json` records them."""

    def parse(raw: Any) -> Proc | None:
        try:
            return Proc(str(raw["name"]), int(raw["pid"]), str(raw["cmdline"]))
        except (KeyError, TypeError, ValueError):
            return None

    children = [p for p in (parse(r) for r in stack.get("processes") or []) if p is not None]
    return parse(stack.get("launcher")), children


def running_launcher(data_dir: Path) -> Proc | None:
    """The launcher of a stack running on this data folder, if any."""
    launcher, _ = stack_processes(read_stack(data_dir))
    return launcher if launcher is not None and launcher.alive() else None


def refuse_if_running(data_dir: Path) -> None:
    """One stack per data folder: say how to reach or stop the running one."""
    launcher = running_launcher(data_dir)
    if launcher is not None:
        url = read_stack(data_dir).get("nats_url", "")
        down = (
            "`algopioneer down`"
            if data_dir.resolve() == Path("data").resolve()
            else (f"`algopioneer down --data-dir {data_dir}`")
        )
        raise StackGuardError(
            f"a stack is already running (pid {launcher.pid}, NATS {url}): "
            f"`algopioneer status` to look at it, {down} to stop it"
        )


def stop_leftovers(data_dir: Path, grace_s: float = STOP_GRACE_S) -> list[str]:
    """Stop what a dead launcher of this folder left running; says what (empty when nothing)."""
    launcher, children = stack_processes(read_stack(data_dir))
    if launcher is not None and launcher.alive():
        return []
    return [f"{p.name} (pid {p.pid})" for p in stop_processes(children, grace_s)]


def stop_stack(data_dir: Path, timeout_s: float = 60.0) -> str:
    """`algopioneer down`: SIGTERM the launcher (it stops its services, then NATS) and wait; then
    stop any leftovers. Says what it did."""
    launcher = running_launcher(data_dir)
    if launcher is not None:
        os.kill(launcher.pid, signal.SIGTERM)
        if _wait_gone([launcher], timeout_s):
            raise StackGuardError(f"the launcher (pid {launcher.pid}) did not stop within {timeout_s:.0f} s")
    left = stop_leftovers(data_dir)
    if launcher is not None:
        return f"stack stopped (launcher pid {launcher.pid})"
    if left:
        return f"no launcher was running; stopped its leftovers: {', '.join(left)}"
    return f"no stack is running on {data_dir}"


# ---------------------------------------------------------------- ports and data format


def port_taken(port: int) -> bool:
    """Something listens on 127.0.0.1:`port` (TIME_WAIT leftovers do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def check_ports(ports: dict[str, int]) -> None:
    """Refuse a port another program holds, naming it and how to find its owner."""
    for what, port in ports.items():
        if port > 0 and port_taken(port):
            hint = "; or start on a free one with `algopioneer up --nats-port 0`" if what == "NATS" else ""
            raise StackGuardError(
                f"port {port} ({what}) is taken by another program (not a stack of this data folder): "
                f"find it with `ss -ltnp 'sport = :{port}'` or `lsof -iTCP:{port} -sTCP:LISTEN`{hint}"
            )


def fresh_target(data_dir: Path) -> Path:
    """Where `--fresh` moves an old data folder."""
    return data_dir.with_name(f"{data_dir.name}.old-{datetime.now().strftime('%Y%m%d-%H%M%S')}")


def check_data(data_dir: Path) -> None:
    """Stamp a new data folder with `DATA_VERSION`; refuse one another format wrote."""
    version_file = data_dir / VERSION_FILE
    if version_file.exists():
        text = version_file.read_text().strip()
        if text == str(DATA_VERSION):
            return
        found = f"data format {text}"
        newer = text.isdigit() and int(text) > DATA_VERSION
    elif (data_dir / "nats" / "jetstream").exists():
        found, newer = "no data format version", False
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        version_file.write_text(f"{DATA_VERSION}\n")
        return
    who = (
        "a newer algopioneer: upgrade, or"
        if newer
        else "an older algopioneer; its streams and buckets may not match:"
    )
    raise StackGuardError(
        f"{data_dir} was written by {who} start empty with `algopioneer up --fresh`, which moves it to "
        f"{fresh_target(data_dir).name} (nothing is deleted: positions, orders, strategy specs, logs and "
        f"NATS passwords stay there) ({found}; this version reads data format {DATA_VERSION})"
    )


def move_aside(data_dir: Path) -> Path | None:
    """`--fresh`: the old folder under a dated name, and None when there was none."""
    if not data_dir.exists():
        return None
    target = fresh_target(data_dir)
    data_dir.rename(target)
    return target


def preflight(data_dir: Path, ports: dict[str, int]) -> list[str]:
    """Before anything starts: refuse a running stack or stale data, stop a dead stack's leftovers
    (said in the returned notes), refuse ports another program holds."""
    refuse_if_running(data_dir)
    check_data(data_dir)
    left = stop_leftovers(data_dir)
    check_ports(ports)
    return [f"stopped leftovers of a previous launcher: {', '.join(left)}"] if left else []


# ---------------------------------------------------------------- the watchdog


def spawn_args() -> list[str]:
    """How the launcher starts the watchdog (stdin a pipe, a session of its own)."""
    return [sys.executable, "-m", "shared.stackguard"]


def guard_line(proc: Proc) -> bytes:
    """What the launcher writes to the watchdog for each child it starts."""
    return (json.dumps(asdict(proc)) + "\n").encode()


def watch(stream: TextIO) -> list[Proc]:
    """Collect guarded processes until "release" (a clean stop: nothing to do) or end of input
    (the launcher died): then stop them. Returns what it stopped."""
    guarded: list[Proc] = []
    for line in stream:
        if line.strip() == RELEASE:
            return []
        with contextlib.suppress(ValueError, TypeError):
            guarded.append(Proc(**json.loads(line)))
    return stop_processes(guarded)


if __name__ == "__main__":
    for ignored in (signal.SIGINT, signal.SIGHUP):  # a closed terminal or Ctrl-C is the launcher's
        signal.signal(ignored, signal.SIG_IGN)
    stopped = watch(sys.stdin)
    if stopped:
        print(
            f"launcher gone; stopped {', '.join(f'{p.name} (pid {p.pid})' for p in stopped)}", file=sys.stderr
        )
