"""The compose stack validates with the real Compose binary and runs exactly what services/stack.py says."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.stack import LIVE, PAPER, STACK, ServiceEntry, service_env, services_for
from shared.nats import auth
from tests.deploy.conftest import DEPLOY, LIVE_LIMITS, REPO, compose_env, run, tool

ROOT_FILE = REPO / "compose.yaml"
LIVE_ENV = DEPLOY / "live.env"
MODES = {
    # mode name -> extra compose arguments
    "default": [],
    "paper": ["--profile", "paper"],
    "live-profile": ["--profile", "live"],
    "live": ["--env-file", str(LIVE_ENV)],
}
INFRA = {"nats", "otel-collector", "jaeger", "prometheus", "grafana"}
PROJECT_OF = {PAPER: "default", LIVE: "live"}


def compose(*args: str, file: Path = ROOT_FILE) -> str:
    result = run(tool("docker-compose"), "-f", str(file), *args, env=compose_env())
    assert result.returncode == 0, result.stderr
    return result.stdout


_cache: dict[str, dict[str, Any]] = {}


def project(mode: str) -> dict[str, Any]:
    """The fully resolved project (interpolated, profiles applied) as Compose sees it."""
    if mode not in _cache:
        _cache[mode] = json.loads(compose(*MODES[mode], "config", "--format", "json"))
    return _cache[mode]


@pytest.mark.parametrize("mode", list(MODES))
def test_compose_config_is_valid(mode: str) -> None:
    result = run(
        tool("docker-compose"), "-f", str(ROOT_FILE), *MODES[mode], "config", "-q", env=compose_env()
    )
    assert result.returncode == 0, result.stderr


def test_compose_requires_every_nats_password() -> None:
    """No committed password: without them in the environment (.env) compose refuses to start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    result = run(tool("docker-compose"), "-f", str(ROOT_FILE), "config", "-q", env=env)
    assert result.returncode != 0
    assert "NATS_" in result.stderr
    assert "_PASSWORD" in result.stderr


def test_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        "services:\n  app:\n    image: x\n    depends_on:\n      ghost:\n        condition: service_healthy\n"
    )
    result = run(tool("docker-compose"), "-f", str(broken), "config", "-q")
    assert result.returncode != 0
    assert "ghost" in result.stderr


@pytest.mark.parametrize(
    ("mode", "profile"), [("default", PAPER), ("paper", PAPER), ("live-profile", LIVE), ("live", LIVE)]
)
def test_each_mode_runs_exactly_its_profile(mode: str, profile: str) -> None:
    running = set(project(mode)["services"])
    assert running - INFRA == {e.name for e in services_for(profile)}
    assert running >= INFRA


@pytest.mark.parametrize(
    ("entry", "profile"),
    [(e, p) for e in STACK for p in e.profiles],
    ids=lambda v: v.name if isinstance(v, ServiceEntry) else v,
)
def test_service_runs_the_stack_entry(entry: ServiceEntry, profile: str) -> None:
    service = project(PROJECT_OF[profile])["services"][entry.name]
    command = service["command"]
    assert command[:3] == ["python", "-m", entry.module]
    environment = service["environment"]
    for key, value in service_env(entry, profile).items():
        assert environment.get(key) == value, f"{entry.name} ({profile}): {key}"
    assert environment["ALGOPIONEER_HTTP__HOST"] == "0.0.0.0"
    assert environment["ALGOPIONEER_HTTP__PORT"] == "8080"
    assert environment["OTEL_SERVICE_NAME"] == entry.name
    assert service["healthcheck"]["test"][-1].count("http://127.0.0.1:8080/health") == 1
    assert service["read_only"] is True


@pytest.mark.parametrize("entry", STACK, ids=lambda e: e.name)
def test_dependencies_wait_for_health(entry: ServiceEntry) -> None:
    mode = "default" if PAPER in entry.profiles else "live"
    depends = project(mode)["services"][entry.name].get("depends_on", {})
    app_names = {e.name for e in STACK}
    for name, dependency in depends.items():
        if name in app_names or name == "nats":
            assert dependency["condition"] == "service_healthy", f"{entry.name} -> {name}"
    if entry.name != "exchange-sim":
        assert "nats" in depends


def test_strategy_workers_are_replicated() -> None:
    strategy = next(e for e in STACK if e.name == "strategy")
    service = project("default")["services"]["strategy"]
    assert service["deploy"]["replicas"] == strategy.replicas
    assert not service.get("ports"), "a host port would stop `--scale strategy=N`"
    assert "container_name" not in service


def test_paper_and_live_point_at_their_venue() -> None:
    paper = project("default")["services"]["marketdata"]["environment"]
    assert paper["ALGOPIONEER_VENUE__REST_HOST"] == "exchange-sim:8443"
    assert paper["ALGOPIONEER_VENUE__WS_URL"] == "ws://exchange-sim:8765"
    assert paper["ALGOPIONEER_SIM_DIR"] == "/run/sim"
    live = project("live")["services"]["marketdata"]["environment"]
    assert live["ALGOPIONEER_VENUE__REST_HOST"] == "api.coinbase.com"
    assert live["ALGOPIONEER_SIM_DIR"] == ""
    assert live["ALGOPIONEER_VENUE__CA_FILE"] == ""
    assert project("live")["services"]["execution-coinbase"]["environment"]["ALGOPIONEER_SIM_DIR"] == ""


def test_simulator_wiring_is_shared_read_only() -> None:
    services = project("default")["services"]
    sim = services["exchange-sim"]
    assert sim["command"][3:] == [
        "--run-dir",
        "/run/sim",
        "--advertise-host",
        "exchange-sim",
        "--host",
        "0.0.0.0",
        "--port",
        "8443",
        "--ws-port",
        "8765",
    ]
    assert any(v["source"] == "sim-run" and not v.get("read_only") for v in sim["volumes"])
    for name in ("marketdata", "execution-paper", "reconciliation"):
        mounts = [v for v in services[name]["volumes"] if v["source"] == "sim-run"]
        assert mounts, name
        assert all(v["read_only"] for v in mounts), name
        assert services[name]["depends_on"]["exchange-sim"]["condition"] == "service_healthy"
    assert project("default")["volumes"]["sim-run"]["driver_opts"]["type"] == "tmpfs"


def test_each_service_connects_as_its_nats_user_with_the_servers_password() -> None:
    services = project("default")["services"] | project("live")["services"]
    server_env = services["nats"]["environment"]
    for user in (u.name for u in auth.DEPLOY_USERS):
        assert server_env[auth.password_var(user)], user
    for entry in STACK:
        env = services[entry.name]["environment"]
        if entry.name == "exchange-sim":
            assert "ALGOPIONEER_NATS__USER" not in env  # the simulator does not use NATS
            continue
        user = env["ALGOPIONEER_NATS__USER"]
        assert user == entry.nats_user, entry.name
        assert user in auth.BY_NAME
        assert auth.BY_NAME[user].deploy
        assert env["ALGOPIONEER_NATS__PASSWORD"] == server_env[auth.password_var(user)]


def test_nats_keeps_jetstream_on_a_named_volume() -> None:
    nats = project("default")["services"]["nats"]
    assert nats["command"] == ["-c", "/etc/nats/nats-server.conf"]
    assert {"type": "volume", "source": "nats-data", "target": "/data"}.items() <= next(
        v for v in nats["volumes"] if v["target"] == "/data"
    ).items()
    assert nats["healthcheck"]["test"]


def test_coinbase_keys_only_reach_venue_facing_services() -> None:
    # `config` inlines env files, so read the source: which services get the repository's .env.
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    with_keys = {name for name, s in services.items() if s.get("env_file")}
    # The paper venue never calls Coinbase: on a live stack its execution and reconciliation get no keys.
    assert with_keys == {"marketdata", "execution-coinbase", "reconciliation"}
    for name in with_keys:
        assert services[name]["env_file"] == [{"path": "../.env", "required": False}]


def test_grafana_jaeger_prometheus_ports() -> None:
    services = project("default")["services"]
    published = {
        name: {p["published"] for p in s.get("ports", [])}
        for name, s in services.items()
        if name in ("grafana", "jaeger", "prometheus")
    }
    assert published == {"grafana": {"3000"}, "jaeger": {"16686"}, "prometheus": {"9090"}}


def test_live_refuses_to_load_without_each_explicit_risk_limit() -> None:
    """deploy/live.env requires the four start-up limits: compose stops and names the missing one."""
    for missing in LIVE_LIMITS:
        env = compose_env()
        del env[missing]
        result = run(tool("docker-compose"), "-f", str(ROOT_FILE), *MODES["live"], "config", "-q", env=env)
        assert result.returncode != 0, missing
        assert missing in result.stderr, result.stderr


def test_live_risk_gets_the_explicit_limits_and_requires_them() -> None:
    risk = project("live")["services"]["risk"]["environment"]
    for key, value in LIVE_LIMITS.items():
        assert risk[key] == value, key
    assert risk["ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS"] == "true"


def test_paper_needs_no_explicit_risk_limits() -> None:
    """Paper may keep the built-in limits: without them compose loads and risk gets none (unset)."""
    result = run(
        tool("docker-compose"),
        "-f",
        str(ROOT_FILE),
        "config",
        "--format",
        "json",
        env=compose_env(limits=False),
    )
    assert result.returncode == 0, result.stderr
    risk = json.loads(result.stdout)["services"]["risk"]["environment"]
    for key in (*LIVE_LIMITS, "ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS"):
        assert risk.get(key) is None, key  # a null entry passes through only what the environment sets


@pytest.mark.parametrize("profile", [PAPER, LIVE])
def test_each_service_publishes_its_stack_port(profile: str) -> None:
    """Paper twins on a live stack: execution-paper has a port of its own beside execution-coinbase."""
    services = project(PROJECT_OF[profile])["services"]
    for entry in services_for(profile):
        published = [p["published"] for p in services[entry.name].get("ports", [])]
        if entry.name == "strategy":
            continue  # replicated: no host port
        if entry.name == "console":  # its page has a port of its own beside /health and /metrics
            assert published == [str(entry.http_port), "8089"], entry.name
            continue
        assert published == [str(entry.http_port)], entry.name
    ports = [e.http_port for e in services_for(profile)]
    assert len(ports) == len(set(ports))
