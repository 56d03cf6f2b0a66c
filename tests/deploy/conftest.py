"""Helpers for the offline deploy checks: paths, the venv's validators, a tiny kustomize renderer."""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A validator installed in the venv by requirements.lock; fail (not skip) if it is missing."""
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not in {BIN}; run `make setup` (it is pinned in requirements.lock)")
    return str(path)


def load_module(path: Path) -> ModuleType:
    """Import a stdlib-only helper script from deploy/ (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"deploy_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gen_auth() -> ModuleType:
    """deploy/nats/gen_auth.py: renders shared/nats/auth.py (the permissions table) into the configs."""
    return load_module(DEPLOY / "nats" / "gen_auth.py")


LIVE_LIMITS: dict[str, str] = {
    "ALGOPIONEER_RISK__LIMITS__MAX_POSITION_NOTIONAL": "2500",
    "ALGOPIONEER_RISK__LIMITS__MAX_STRATEGY_NOTIONAL": "5000",
    "ALGOPIONEER_RISK__LIMITS__MAX_GROSS_EXPOSURE": "10000",
    "ALGOPIONEER_RISK__LIMITS__DAILY_LOSS_LIMIT": "250",
}
"""The explicit risk limits an operator's .env holds for live (deploy/live.env requires them)."""


def compose_env(*, limits: bool = True) -> dict[str, str]:
    """The environment with a dummy password for every NATS user (compose has no defaults for them)
    and, unless `limits` is false, the live risk limits."""
    from shared.nats import auth

    base = {k: v for k, v in os.environ.items() if k not in LIVE_LIMITS}
    passwords = {auth.dotenv_var(u.name): f"{u.name}-test" for u in auth.DEPLOY_USERS}
    return base | passwords | (LIVE_LIMITS if limits else {})


def run(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a tool without a shell; output captured as text. `env` replaces the environment if given."""
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_docs(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# ---- a small kustomize: resources (files and directories), strategic-merge patches, namespace, images ----


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as these overlays use it: maps merge, lists of named maps merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        # Like kustomize: items new to the list come first (in patch order), then the merged originals.
        patched = {item["name"]: item for item in patch}
        added = [copy.deepcopy(i) for i in patch if i["name"] not in {b["name"] for b in base}]
        return added + [
            _merge(i, patched[i["name"]]) if i["name"] in patched else copy.deepcopy(i) for i in base
        ]
    return copy.deepcopy(patch)


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def _set_images(node: Any, images: list[dict[str, str]]) -> None:
    if isinstance(node, dict):
        for container_key in ("containers", "initContainers"):
            for container in node.get(container_key, []) or []:
                for image in images:
                    name = container.get("image", "").split(":")[0]
                    if name == image["name"]:
                        container["image"] = f"{image.get('newName', name)}:{image['newTag']}"
        for value in node.values():
            _set_images(value, images)
    elif isinstance(node, list):
        for value in node:
            _set_images(value, images)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """Render a kustomization directory into its resources (what `kubectl kustomize` prints)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {"apiVersion", "kind", "resources", "patches", "namespace", "images"}
    assert not unknown, f"{directory}: the test renderer does not know {sorted(unknown)}"
    docs: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        docs += kustomize(path) if path.is_dir() else load_docs(path)
    by_key = {_key(d): n for n, d in enumerate(docs)}
    assert len(by_key) == len(docs), f"{directory}: duplicate resources"
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, "only strategic-merge patch files are used"
        for doc in load_docs(directory / patch["path"]):
            assert _key(doc) in by_key, f"{patch['path']} patches {_key(doc)}, which is not a resource"
            n = by_key[_key(doc)]
            docs[n] = _merge(docs[n], doc)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = kustomization["namespace"]
    if "images" in kustomization:
        _set_images(docs, kustomization["images"])
    return docs
