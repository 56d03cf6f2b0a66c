"""A launcher never leaves a mess: its children die with it however it dies, the next `up` on the
same folder and port works, a second `up` beside a running stack is refused with how to reach or
stop it, and a taken port or stale data is named instead of a nats-server exit code."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from services.launcher import Launcher, LauncherError
from services.stack import ServiceEntry
from shared import stackguard as guard
from shared.testing import eventually, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="children die by PR_SET_PDEATHSIG"),
]

ROOT = Path(__file__).resolve().parents[2]
CLI = "from services.cli.main import app; app()"  # the `algopioneer` console script
# A real launcher process with the fast test stack (NATS and the echo service), killable by PID.
LAUNCHER = """
import asyncio, sys
from pathlib import Path
from services.launcher import Launcher
from services.stack import ServiceEntry
echo = ServiceEntry("echo", "tests.integration.echo_service", int(sys.argv[3]))
sys.exit(asyncio.run(Launcher(Path(sys.argv[1]), nats_port=int(sys.argv[2]), entries=[echo]).run()))
"""


def _env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALGOPIONEER_", "NATS_"))}
    return clean | {"PYTHONPATH": str(ROOT)}


class Stack:
    """`algopioneer up`'s launcher as a process of its own on `data_dir`, NATS on a fixed port."""

    def __init__(self, data_dir: Path, nats_port: int) -> None:
        self.data_dir, self.nats_port = data_dir, nats_port
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(data_dir), str(nats_port), str(free_port())],
            cwd=str(ROOT),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def children(self) -> list[guard.Proc]:
        """Once NATS and the echo service run: the children `stack.json` records."""

        def recorded() -> list[guard.Proc] | None:
            launcher, children = guard.stack_processes(guard.read_stack(self.data_dir))
            names = {p.name for p in children}
            mine = launcher is not None and launcher.pid == self.process.pid
            return children if mine and names == {guard.NATS_NAME, "echo"} else None

        found = await eventually(recorded, timeout_s=30, interval_s=0.1, what="launcher started its children")
        assert found is not None
        return found


def _watchdog_of(launcher_pid: int) -> int:
    """The launcher's watchdog process (its child running `shared.stackguard`)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pid = int(stat.parent.name)
        if parent == launcher_pid and "shared.stackguard" in (guard.cmdline(pid) or ""):
            return pid
    raise AssertionError(f"no watchdog under pid {launcher_pid}")


async def _run_again(data_dir: Path, nats_port: int) -> None:
    """`up` again on the same folder and NATS port: it starts, and stops cleanly."""
    echo = ServiceEntry("echo", "tests.integration.echo_service", free_port())
    launcher = Launcher(data_dir, nats_port=nats_port, entries=[echo])
    running = asyncio.create_task(launcher.run())
    started = asyncio.create_task(launcher.started.wait())
    await asyncio.wait({started, running}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if running.done():
        running.result()
    assert launcher.nats.url.endswith(f":{nats_port}")
    launcher.stopping.set()
    assert await asyncio.wait_for(running, 30) == 0
    for sig in (signal.SIGINT, signal.SIGTERM):  # the launcher installed handlers in our loop
        asyncio.get_running_loop().remove_signal_handler(sig)
    stack = json.loads((data_dir / guard.STACK_FILE).read_text())
    assert (stack["launcher"], stack["processes"]) == (None, [])  # a clean stop leaves nothing to find


async def test_kill_9_the_launcher_its_children_die_and_up_works_again(tmp_path: Path) -> None:
    port = free_port()
    stack = Stack(tmp_path, port)
    children = await stack.children()
    stack.process.send_signal(signal.SIGKILL)
    stack.process.wait()
    await eventually(
        lambda: not any(p.alive() for p in children), timeout_s=20, what="children gone with the launcher"
    )
    await _run_again(tmp_path, port)


async def test_up_stops_what_a_dead_launcher_left_running(tmp_path: Path) -> None:
    """Without its watchdog, a killed launcher leaves nats-server running (services still die with
    it): the next start finds it by PID and command line, stops it, and takes its port."""
    port = free_port()
    stack = Stack(tmp_path, port)
    children = await stack.children()
    os.kill(_watchdog_of(stack.process.pid), signal.SIGKILL)
    stack.process.send_signal(signal.SIGKILL)
    stack.process.wait()
    (nats,) = [p for p in children if p.name == guard.NATS_NAME]
    await eventually(lambda: not any(p.alive() for p in children if p is not nats), timeout_s=20, what="echo")
    assert nats.alive()
    with pytest.raises(LauncherError, match=f"port {port} \\(NATS\\) is taken"):
        await Launcher(tmp_path / "elsewhere", nats_port=port, entries=[]).run()  # not ours there
    await _run_again(tmp_path, port)
    assert not nats.alive()


async def test_a_second_up_is_refused_with_how_to_reach_or_stop_the_running_stack(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stack = Stack(data_dir, free_port())
    await stack.children()
    url = guard.read_stack(data_dir)["nats_url"]
    second = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CLI, "up", "--data-dir", str(data_dir), "--no-dashboard", "--no-portfolio"],
        cwd=str(ROOT),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    (line,) = second.stderr.strip().splitlines()
    assert f"a stack is already running (pid {stack.process.pid}, NATS {url})" in line
    assert "`algopioneer status` to look at it" in line
    assert f"`algopioneer down --data-dir {data_dir}` to stop it" in line
    with pytest.raises(LauncherError, match="a stack is already running"):
        await Launcher(data_dir, nats_port=-1, entries=[]).run()

    down = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CLI, "down", "--data-dir", str(data_dir)],
        cwd=str(ROOT),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == f"stack stopped (launcher pid {stack.process.pid})"
    assert stack.process.wait(5) == 0  # stopped by SIGTERM, in order
    assert guard.stop_stack(data_dir) == f"no stack is running on {data_dir}"


async def test_a_port_another_program_holds_is_named_with_how_to_find_it(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(LauncherError) as refused:
            await Launcher(tmp_path, nats_port=port, entries=[]).run()
    message = str(refused.value)
    assert f"port {port} (NATS) is taken by another program" in message
    assert f"ss -ltnp 'sport = :{port}'" in message
    assert "--nats-port 0" in message
    assert not (tmp_path / "nats").exists()  # refused before anything started


async def test_stale_data_is_refused_with_what_fresh_does(tmp_path: Path) -> None:
    (tmp_path / "nats" / "jetstream").mkdir(parents=True)  # a folder from before data versions
    with pytest.raises(LauncherError) as older:
        await Launcher(tmp_path, nats_port=-1, entries=[]).run()
    assert "written by an older algopioneer" in str(older.value)
    assert "`algopioneer up --fresh`, which moves it to" in str(older.value)
    (tmp_path / guard.VERSION_FILE).write_text("99\n")
    with pytest.raises(LauncherError, match="written by a newer algopioneer: upgrade, or"):
        await Launcher(tmp_path, nats_port=-1, entries=[]).run()

    moved = guard.move_aside(tmp_path)
    assert moved is not None
    assert (moved / guard.VERSION_FILE).read_text() == "99\n"
    assert not tmp_path.exists()
    guard.check_data(tmp_path)  # a fresh folder is stamped with this version
    assert (tmp_path / guard.VERSION_FILE).read_text() == f"{guard.DATA_VERSION}\n"
