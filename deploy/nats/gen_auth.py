"""Render the NATS server configs from the one permissions table, `shared/nats/auth.py`
(through `shared/nats/render.py`).

    python deploy/nats/gen_auth.py           # rewrite the generated files below
    python deploy/nats/gen_auth.py --check   # exit 1 if any of them is out of date (a test runs this)
    python deploy/nats/gen_auth.py --new-env >> .env   # random compose passwords, one per user

Outputs (never edit them by hand; edit `USERS` in shared/nats/auth.py and re-run):
- `shared/nats/permissions.conf`  local stack and integration tests, passwords `<user>-local`
- `deploy/nats/local.conf`        the same local config, at the path the deploy docs name
- `deploy/nats/nats-server.conf`  the compose server, passwords from the environment ($RISK_PASSWORD …)
- `deploy/k8s/nats-values.yaml`   values for the official NATS Helm chart, passwords from the Secret
                                  `algopioneer-nats`

Runs with the project's interpreter or a bare python3 (the table needs only `shared.subjects`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
REPO = DEPLOY.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shared.nats import render  # noqa: E402  (after the path set-up above)

OUTPUTS: dict[Path, Callable[[], str]] = {
    REPO / "shared" / "nats" / "permissions.conf": lambda: render.render_local_conf(
        "shared/nats/permissions.conf"
    ),
    HERE / "local.conf": lambda: render.render_local_conf("deploy/nats/local.conf"),
    HERE / "nats-server.conf": render.render_server_conf,
    DEPLOY / "k8s" / "nats-values.yaml": render.render_helm_values,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    parser.add_argument("--new-env", action="store_true", help="print fresh compose passwords as .env lines")
    args = parser.parse_args(argv)
    if args.new_env:
        sys.stdout.write(render.new_dotenv())
        return 0
    stale = []
    for path, renderer in OUTPUTS.items():
        text = renderer()
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        names = ", ".join(str(p.relative_to(REPO)) for p in stale)
        print(f"out of date: {names}; run python deploy/nats/gen_auth.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
