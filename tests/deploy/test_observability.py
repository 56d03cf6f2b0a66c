"""Prometheus scrapes every service, the Grafana dashboard reads only the agreed metric names, the collector
pipeline is wired to Jaeger."""

from __future__ import annotations

import ast
import json
import re
import shutil
from typing import Any

import pytest
import yaml

from services.stack import STACK
from tests.deploy.conftest import DEPLOY, REPO, run

PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "algopioneer.json"
METRICS = DEPLOY / "grafana" / "metrics.yaml"

_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "rate", "irate", "increase", "histogram_quantile",
    "le", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool", "abs",
    "clamp_min", "clamp_max", "topk", "bottomk", "delta", "deriv", "time", "vector", "scalar",
}  # fmt: skip
_HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (identifiers outside label matchers, minus keywords)."""
    without_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_ranges)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings)) - _PROMQL_WORDS
    return {_HISTOGRAM_SUFFIX.sub("", n) for n in names}


TARGET_LABELS = {"job", "instance", "service"}  # added by Prometheus (deploy/prometheus/prometheus.yml)
_METRIC_TYPES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}


def defined_metrics() -> dict[str, dict[str, Any]]:
    """Every prometheus_client metric defined in services/ and shared/: exposed name → type, labels, owner.

    Read from the source (`Counter("name", "help", ["label", ...])`), so a metric the dashboard needs
    must really be defined by a service, not only listed somewhere."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted([*(REPO / "services").rglob("*.py"), *(REPO / "shared").rglob("*.py")]):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            kind = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if kind not in _METRIC_TYPES or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            label_node = node.args[2] if len(node.args) > 2 else None
            for keyword in node.keywords:
                if keyword.arg == "labelnames":
                    label_node = keyword.value
            labels: list[str] = []
            if isinstance(label_node, ast.List | ast.Tuple):
                labels = [e.value for e in label_node.elts if isinstance(e, ast.Constant)]
            name = first.value
            if kind == "Counter" and not name.endswith("_total"):
                name += "_total"  # prometheus_client exposes counters as <name>_total
            rel = path.relative_to(REPO)
            owner = "shared" if rel.parts[0] == "shared" else rel.parts[1]
            found[name] = {"type": _METRIC_TYPES[kind], "labels": labels, "owner": owner, "file": str(rel)}
    return found


def labels_used(expr: str) -> set[str]:
    """Label names a PromQL expression filters on (`{x="..."}`) or groups by (`by (x, y)`)."""
    used: set[str] = set()
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        used |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        used |= {g.strip() for g in grouping.split(",") if g.strip()}
    return used


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return found


def test_prometheus_scrapes_every_service_on_8080() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "algopioneer")
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["port"] == 8080
    assert discovery["type"] == "A"
    assert set(discovery["names"]) == {e.name for e in STACK}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_config() -> None:
    result = run("promtool", "check", "config", "--syntax-only", str(PROMETHEUS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_panels_read_only_listed_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    listed = {m["name"] for m in yaml.safe_load(METRICS.read_text())["metrics"]}
    used: set[str] = set()
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus"
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= listed, (panel["title"], names - listed)
            used |= names
    assert used == listed, f"listed but unused: {listed - used}"


def test_dashboard_covers_the_required_views() -> None:
    exprs = " ".join(
        t["expr"] for p in panels(json.loads(DASHBOARD.read_text())) for t in p.get("targets", [])
    )
    for required in (
        "risk_pnl_total",
        'risk_pnl_total{scope="portfolio"}',
        "risk_position",
        "strategy_tick_to_intent_seconds_bucket",
        "risk_breaker_state",
        "risk_kill_switch",
        "md_feed_staleness_seconds",
        "md_feed_connected",
        'execution_orders_total{status="rejected"}',
    ):
        assert required in exprs, required


def test_every_dashboard_metric_is_defined_by_a_service() -> None:
    defined = defined_metrics()
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            names = metric_names(target["expr"]) - {"up"}  # Prometheus' own
            missing = names - set(defined)
            assert not missing, (panel["title"], target["expr"], missing)


def test_metrics_list_matches_the_code() -> None:
    defined = defined_metrics()
    for entry in yaml.safe_load(METRICS.read_text())["metrics"]:
        if entry["owner"] == "prometheus":
            continue
        code = defined.get(entry["name"])
        assert code is not None, f"{entry['name']} is not defined in services/ or shared/"
        assert entry["type"] == code["type"], (entry["name"], code["file"])
        assert entry["labels"] == code["labels"], (entry["name"], code["file"])
        assert entry["owner"] == code["owner"], (entry["name"], code["file"])


def test_dashboard_filters_and_groups_only_by_real_labels() -> None:
    defined = defined_metrics()
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"]
            allowed = set(TARGET_LABELS)
            for name in metric_names(expr) - {"up"}:
                allowed |= set(defined[name]["labels"])
                if defined[name]["type"] == "histogram":
                    allowed.add("le")
            assert labels_used(expr) <= allowed, (panel["title"], expr, labels_used(expr) - allowed)
            legend = set(
                re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", target.get("legendFormat", ""))
            )
            assert legend <= allowed, (panel["title"], legend - allowed)


def test_pnl_panels_pick_a_scope() -> None:
    """risk_pnl_total carries the portfolio and every strategy: summing all scopes double-counts."""
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if "risk_pnl_total" in target["expr"]:
                assert re.search(r"risk_pnl_total\{scope=~?\"", target["expr"]), (
                    panel["title"],
                    target["expr"],
                )
    portfolio = next(p for p in panels(dashboard) if p["title"] == "Portfolio PnL")
    assert 'scope="portfolio"' in portfolio["targets"][0]["expr"]


def test_metric_helper_reads_names() -> None:
    assert metric_names('sum by (venue) (rate(execution_orders_total{status="rejected"}[5m])) * 60') == {
        "execution_orders_total"
    }
    assert metric_names("histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[1m])))") == {"x_seconds"}
    assert labels_used('sum by (le, service) (rate(x{status="rejected", scope=~"s.+"}[1m]))') == {
        "le",
        "service",
        "status",
        "scope",
    }


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yaml").read_text())[
        "datasources"
    ]
    assert {d["uid"]: d["url"] for d in datasources} == {
        "prometheus": "http://prometheus:9090",
        "jaeger": "http://jaeger:16686",
    }
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in compose["services"]["grafana"]["volumes"]


def test_collector_sends_traces_to_jaeger() -> None:
    config = yaml.safe_load((DEPLOY / "otel" / "collector.yaml").read_text())
    for pipeline in config["service"]["pipelines"].values():
        assert set(pipeline["receivers"]) <= set(config["receivers"])
        assert set(pipeline["processors"]) <= set(config["processors"])
        assert set(pipeline["exporters"]) <= set(config["exporters"])
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger"]
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
