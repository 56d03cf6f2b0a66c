"""Container entrypoint: wire the exchange simulator's credentials in paper mode, then exec the command.

    ENTRYPOINT ["python", "/usr/local/bin/algopioneer-entrypoint"]   CMD ["python", "-m", "services.x"]

With `ALGOPIONEER_SIM_DIR` empty or unset it only execs the command. With it set (paper mode: the
simulator's run dir, mounted read-only), it does what `algopioneer up` does for local processes:

1. waits up to `ALGOPIONEER_SIM_WAIT_S` (default 60) for the simulator's `sim.json`;
2. exports the simulator's throwaway API key as `COINBASE_API_KEY` / `COINBASE_API_SECRET`
   (replacing any real key from `.env`: real keys never go to the simulator);
3. fills `ALGOPIONEER_VENUE__*` from `sim.json` where the deploy files did not set them explicitly
   (they normally do: `exchange-sim:8443`, `ws://exchange-sim:8765`, `/run/sim/ca.pem`).

Interlock: a container with `ALGOPIONEER_EXECUTION__MODE=live` refuses to start while
`ALGOPIONEER_SIM_DIR` is set, so live execution can never run with paper-mode wiring (for example
`docker compose --profile live up` without `--env-file deploy/live.env`).

Stdlib only; `os.execvp` replaces this process, so the service is PID 1 and gets signals directly.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

SIM_DIR = "ALGOPIONEER_SIM_DIR"
SIM_WAIT = "ALGOPIONEER_SIM_WAIT_S"
VENUE_FROM_SIM = {
    "ALGOPIONEER_VENUE__REST_HOST": "rest_host",
    "ALGOPIONEER_VENUE__WS_URL": "ws_url",
    "ALGOPIONEER_VENUE__WS_USER_URL": "ws_user_url",
}
EXIT_CONFIG = 78  # EX_CONFIG: a restart will not help, the deployment is wrong


def _fail(message: str) -> int:
    print(f"algopioneer-entrypoint: {message}", file=sys.stderr, flush=True)
    return EXIT_CONFIG


def _wait_for(path: Path, timeout_s: float) -> dict[str, object] | None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                return loaded
        except (FileNotFoundError, json.JSONDecodeError):
            pass  # not written yet, or caught mid-write
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def apply_simulator(env: dict[str, str]) -> str | None:
    """Update `env` in place for paper mode; return an error message, or None when all is well."""
    sim_dir = env.get(SIM_DIR, "").strip()
    if not sim_dir:
        return None
    if env.get("ALGOPIONEER_EXECUTION__MODE", "").strip().lower() == "live":
        return (
            f"refusing to start live execution with the simulator wiring ({SIM_DIR}={sim_dir}); "
            "run live with `docker compose --env-file deploy/live.env up` (or unset it)"
        )
    run_dir = Path(sim_dir)
    timeout_s = float(env.get(SIM_WAIT, "60") or "60")
    info = _wait_for(run_dir / "sim.json", timeout_s)
    if info is None:
        return f"no simulator at {run_dir}: sim.json did not appear within {timeout_s:g}s"
    # The key file is named in sim.json with the simulator's own path; read it from our mount.
    key_path = run_dir / Path(str(info.get("key_file", "cdp_api_key.json"))).name
    try:
        key = json.loads(key_path.read_text())
        env["COINBASE_API_KEY"] = str(key["name"])
        env["COINBASE_API_SECRET"] = str(key["privateKey"])
    except (OSError, ValueError, KeyError) as exc:
        return f"cannot read the simulator's API key {key_path}: {exc!r}"
    for var, field in VENUE_FROM_SIM.items():
        # Like the launcher: the user channel shares the market-data WS unless sim.json says otherwise.
        value = info.get(field) or (info.get("ws_url") if field == "ws_user_url" else None)
        if not env.get(var) and value:
            env[var] = str(value)
    if not env.get("ALGOPIONEER_VENUE__CA_FILE"):
        env["ALGOPIONEER_VENUE__CA_FILE"] = str(run_dir / Path(str(info.get("ca_path", "ca.pem"))).name)
    return None


def main(argv: list[str]) -> int:
    if not argv:
        return _fail("no command given (expected e.g. python -m services.risk)")
    env = dict(os.environ)
    error = apply_simulator(env)
    if error is not None:
        return _fail(error)
    os.execvpe(argv[0], argv, env)  # noqa: S606 - the container command, by design
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
