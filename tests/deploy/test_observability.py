"""Prometheus scrapes every service, the Grafana dashboard reads only the agreed metric names, the collector
pipeline is wired to Jaeger."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import pytest
import yaml

from services.stack import STACK
from tests.deploy.conftest import DEPLOY, run

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
        "risk_position_",
        "strategy_tick_to_intent_seconds_bucket",
        "risk_breaker_state",
        "risk_kill_switch",
        "marketdata_feed_stale",
        'execution_orders_total{status="rejected"}',
    ):
        assert required in exprs, required


def test_metric_helper_reads_names() -> None:
    assert metric_names('sum by (venue) (rate(execution_orders_total{status="rejected"}[5m])) * 60') == {
        "execution_orders_total"
    }
    assert metric_names("histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket[1m])))") == {"x_seconds"}


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
