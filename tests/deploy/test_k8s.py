"""Kubernetes manifests: schema-valid (kubernetes-validate --strict), and they run what services/stack.py says.

Overlays are plain strategic-merge patches, rendered here by a small renderer (tests/deploy/conftest.py);
when `kubectl` happens to be installed its kustomize must render the same thing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.stack import LIVE, PAPER, STACK, ServiceEntry, service_env, services_for
from tests.deploy.conftest import K8S, LIVE_LIMITS, REPO, kustomize, load_docs, run, tool

OVERLAYS = {PAPER: K8S / "overlays" / PAPER, LIVE: K8S / "overlays" / LIVE}
VENUE_FACING = {"marketdata", "reconciliation", "execution-paper", "execution-coinbase"}


def _patch_files() -> set[Path]:
    files: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        for patch in yaml.safe_load(kustomization.read_text()).get("patches", []):
            files.add((kustomization.parent / patch["path"]).resolve())
    return files


def _resource_files() -> list[Path]:
    """Every manifest that is a whole resource (not a kustomization, patch or Helm values file)."""
    patches = _patch_files()
    return sorted(
        p
        for p in K8S.rglob("*.yaml")
        if p.name != "kustomization.yaml" and p.parent != K8S and p.resolve() not in patches
    )


def validate(*files: Path) -> None:
    result = run(tool("kubernetes-validate"), "--strict", "-k", "1.37", "--quiet", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


_rendered: dict[str, list[dict[str, Any]]] = {}


def rendered(profile: str) -> list[dict[str, Any]]:
    if profile not in _rendered:
        _rendered[profile] = kustomize(OVERLAYS[profile])
    return _rendered[profile]


def deployments(profile: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered(profile) if d["kind"] == "Deployment"}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def effective_env(profile: str, deployment: dict[str, Any]) -> dict[str, str | None]:
    """What the container sees: its ConfigMaps' data (envFrom), then its own `env` (values; None for
    values taken from a Secret or ConfigMap key)."""
    main = container(deployment)
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in rendered(profile) if d["kind"] == "ConfigMap"}
    env: dict[str, str | None] = {}
    for source in main.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
    env.update({e["name"]: e.get("value") for e in main["env"]})
    return env


def test_every_resource_file_is_schema_valid() -> None:
    files = _resource_files()
    assert len(files) >= 10
    validate(*files)


@pytest.mark.parametrize("profile", [PAPER, LIVE])
def test_rendered_overlay_is_schema_valid(profile: str, tmp_path: Path) -> None:
    out = tmp_path / f"{profile}.yaml"
    out.write_text(yaml.safe_dump_all(rendered(profile), sort_keys=False))
    validate(out)


@pytest.mark.parametrize("profile", [PAPER, LIVE])
def test_overlay_has_a_deployment_per_stack_entry_of_its_profile(profile: str) -> None:
    assert set(deployments(profile)) == {e.name for e in services_for(profile)}
    services = {d["metadata"]["name"] for d in rendered(profile) if d["kind"] == "Service"}
    budgets = {d["metadata"]["name"] for d in rendered(profile) if d["kind"] == "PodDisruptionBudget"}
    assert services == budgets == set(deployments(profile))
    assert {d["metadata"].get("namespace") for d in rendered(profile) if d["kind"] != "Namespace"} == {
        f"algopioneer-{profile}"
    }


@pytest.mark.parametrize(
    ("entry", "profile"),
    [(e, p) for e in STACK for p in e.profiles],
    ids=lambda v: v.name if isinstance(v, ServiceEntry) else v,
)
def test_deployment_runs_the_stack_entry(entry: ServiceEntry, profile: str) -> None:
    deployment = deployments(profile)[entry.name]
    main = container(deployment)
    # The image's ENTRYPOINT (deploy/docker/entrypoint.py) stays; args are the command it execs.
    assert "command" not in main
    assert main["args"][:3] == ["python", "-m", entry.module]
    env = effective_env(profile, deployment)
    for key, value in service_env(entry, profile).items():
        assert env.get(key) == value, f"{entry.name} ({profile}): {key}"
    assert env["OTEL_SERVICE_NAME"] == entry.name
    if entry.name != "exchange-sim":
        assert env["ALGOPIONEER_NATS__USER"] == entry.nats_user
        (password,) = [e for e in main["env"] if e["name"] == "ALGOPIONEER_NATS__PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": "algopioneer-nats", "key": entry.nats_user}
    assert main["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in main["ports"]
    assert main["resources"]["requests"]
    assert main["resources"]["limits"]["memory"]
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    if entry.name == "strategy":
        assert "replicas" not in deployment["spec"]  # the HPA owns it
    else:
        assert deployment["spec"]["replicas"] == entry.replicas
    config_maps = {e["configMapRef"]["name"] for e in main["envFrom"]}
    expected = {"algopioneer-config"} | ({"algopioneer-venue"} if entry.name in VENUE_FACING else set())
    assert config_maps == expected


def test_shared_config_matches_the_container_contract() -> None:
    for profile in (PAPER, LIVE):
        config = next(d for d in rendered(profile) if d["metadata"]["name"] == "algopioneer-config")
        assert config["data"]["ALGOPIONEER_HTTP__HOST"] == "0.0.0.0"
        assert config["data"]["ALGOPIONEER_HTTP__PORT"] == "8080"
        assert config["data"]["ALGOPIONEER_NATS__STREAM_REPLICAS"] == "3"  # the Helm cluster has 3 nodes


def test_paper_points_the_venue_at_the_simulator_and_live_at_coinbase() -> None:
    def venue(profile: str) -> dict[str, str]:
        data: dict[str, str] = next(
            d for d in rendered(profile) if d["metadata"]["name"] == "algopioneer-venue"
        )["data"]
        return data

    assert venue(PAPER)["ALGOPIONEER_VENUE__REST_HOST"] == "exchange-sim:8443"
    assert venue(PAPER)["ALGOPIONEER_SIM_DIR"] == "/run/sim"
    assert venue(LIVE)["ALGOPIONEER_VENUE__REST_HOST"] == "api.coinbase.com"
    assert "ALGOPIONEER_SIM_DIR" not in venue(LIVE)
    for name in ("marketdata", "reconciliation", "execution-paper"):
        pod = deployments(PAPER)[name]["spec"]["template"]["spec"]
        mounts = {m["mountPath"]: m for m in container(deployments(PAPER)[name])["volumeMounts"]}
        assert mounts["/run/sim"]["readOnly"] is True, name
        assert pod["affinity"]["podAffinity"], name  # ReadWriteOnce: same node as the simulator


def test_secrets_are_referenced_never_committed() -> None:
    for path in K8S.rglob("*.yaml"):
        assert all(d.get("kind") != "Secret" for d in load_docs(path)), path
    live = deployments(LIVE)
    for name in ("marketdata", "reconciliation", "execution-coinbase"):
        refs = {
            e["valueFrom"]["secretKeyRef"]["key"]
            for e in container(live[name])["env"]
            if "valueFrom" in e and e["valueFrom"]["secretKeyRef"]["name"] == "algopioneer-coinbase"
        }
        assert refs == {"COINBASE_API_KEY", "COINBASE_API_SECRET"}, name
    for name in ("execution-paper", "reconciliation-paper"):  # the paper venue never calls Coinbase
        assert not any(e["name"].startswith("COINBASE_") for e in container(live[name])["env"]), name
    for name, deployment in deployments(PAPER).items():
        keys = [e for e in container(deployment)["env"] if "valueFrom" in e]
        assert all(e["valueFrom"]["secretKeyRef"]["name"] == "algopioneer-nats" for e in keys), name


def test_live_risk_requires_explicit_limits_with_no_defaults() -> None:
    """Live risk takes the four start-up limits from an operator's ConfigMap, with no committed values:
    the pod does not start without them, and risk itself refuses the built-in ones."""
    env = {e["name"]: e for e in container(deployments(LIVE)["risk"])["env"]}
    assert env["ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS"]["value"] == "true"
    for key in LIVE_LIMITS:
        assert "value" not in env[key], key
        ref = env[key]["valueFrom"]["configMapKeyRef"]
        assert ref["name"] == "algopioneer-risk-limits", key
        assert ref["key"] == key.removeprefix("ALGOPIONEER_RISK__LIMITS__").lower()
        assert not ref.get("optional", False), key
    assert not any(d["metadata"]["name"] == "algopioneer-risk-limits" for d in rendered(LIVE))
    paper = {e["name"] for e in container(deployments(PAPER)["risk"])["env"]}
    assert not paper & {*LIVE_LIMITS, "ALGOPIONEER_RISK__REQUIRE_EXPLICIT_LIMITS"}


def test_strategy_autoscaler() -> None:
    strategy = next(e for e in STACK if e.name == "strategy")
    hpa = next(d for d in rendered(PAPER) if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "strategy",
    }
    assert hpa["spec"]["minReplicas"] == strategy.replicas < hpa["spec"]["maxReplicas"]


def test_nats_helm_values_match_the_permissions_table() -> None:
    from shared.nats import auth

    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True
    merge = values["config"]["merge"]
    assert set(merge["accounts"]) == {"ALGO"}  # the chart keeps its default system account
    users = merge["accounts"]["ALGO"]["users"]
    assert [u["user"] for u in users] == [u.name for u in auth.DEPLOY_USERS if u.account == "ALGO"]
    for user in users:
        assert user["permissions"] == auth.permissions(auth.BY_NAME[user["user"]])
        assert user["password"] == f"<< ${auth.password_var(user['user'])} >>"
    env = values["container"]["env"]
    for user in auth.DEPLOY_USERS:
        ref = env[auth.password_var(user.name)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "algopioneer-nats", "key": user.name}


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not installed (it is not needed in CI)"
)
@pytest.mark.parametrize("profile", [PAPER, LIVE])
def test_test_renderer_agrees_with_kubectl_kustomize(profile: str) -> None:
    result = run("kubectl", "kustomize", str(OVERLAYS[profile].relative_to(REPO)))
    assert result.returncode == 0, result.stderr
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(result.stdout) if d}
    ours = {(d["kind"], d["metadata"]["name"]): d for d in rendered(profile)}
    assert theirs == ours
