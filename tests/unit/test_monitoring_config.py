"""docker/'s monitoring: the Prometheus config and alert rules parse and cover the platform
alarms of issue 15, the Grafana dashboard and its provisioning fit together, every metric
they read is one the code registers (tests/e2e/test_e2e_status.py checks the same against
running processes' /metrics), and the compose file loads them (``docker-compose config``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import generate_latest

from backoffice.metrics import Metrics
from csms.node.metrics import NodeMetrics
from tests.monitoring import (
    ALERT_RULES,
    COMPOSE,
    DASHBOARD,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    DOCKER,
    PROMETHEUS_CONFIG,
    SYNTHETIC,
    PromQLError,
    alert_rules,
    dashboard,
    dashboard_exprs,
    dashboard_panels,
    exposed_names,
    metric_names,
    referenced_metrics,
)

DURATION = re.compile(r"^\d+[smhdwy]$")
# issue 15's platform alarms, and the metric each must read
PLATFORM_ALARMS = {
    "node down": {"up", "csms_nodes_alive"},
    "breaker open": {"csms_cluster_breakers"},
    "PostgreSQL down": {"csms_dependency_up"},
    "Redis down": {"csms_dependency_up"},
    "worker queue backing up": {"csms_worker_queue_depth", "csms_worker_queue_oldest_due_seconds"},
    "critical alarms open": {"csms_alarms_open"},
    "webhook dead letters": {"csms_webhook_deliveries"},
}


def registered_names() -> set[str]:
    """What a node's and a backoffice's registries expose, before any traffic."""
    node = NodeMetrics(lambda: 0).render()
    backoffice = generate_latest(Metrics().registry).decode()
    return exposed_names(node) | exposed_names(backoffice) | SYNTHETIC


def test_promql_reader_finds_names_and_refuses_what_is_not_promql() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{route=~"x y"}[5m])))'
        " > 1e3 and on (node) b offset 5m"
    ) == {"a_bucket", "b"}
    assert metric_names("max by (node) (c) > 0") == {"c"}
    with pytest.raises(PromQLError):
        metric_names("sum(rate(a[5m])")
    with pytest.raises(PromQLError):
        metric_names("summ(a)")
    with pytest.raises(PromQLError):
        metric_names(" ")


def test_prometheus_config_scrapes_nodes_and_backoffice_and_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"csms-node", "csms-backoffice"}
    for job in jobs.values():
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"]["type"] == "Bearer"  # the scrape token
        assert job["static_configs"][0]["targets"]
    # the jobs the rules select are the jobs scraped
    for rule in alert_rules():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, rule["alert"]


def test_alert_rules_are_well_formed() -> None:
    data = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))
    assert data["groups"] and all(g["name"] and g["rules"] for g in data["groups"])
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"Csms[A-Za-z]+", rule["alert"])
        assert DURATION.match(str(rule.get("for", "0s"))), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert metric_names(rule["expr"]), rule["alert"]  # parses, reads something


def test_alert_rules_cover_every_platform_alarm() -> None:
    read = [metric_names(rule["expr"]) for rule in alert_rules()]
    for alarm, metrics in PLATFORM_ALARMS.items():
        assert any(names & metrics for names in read), alarm
    exprs = " ".join(rule["expr"] for rule in alert_rules())
    assert 'dependency="postgres"' in exprs and 'dependency="redis"' in exprs
    assert 'severity="critical"' in exprs


def test_every_metric_the_rules_and_the_dashboard_read_is_registered() -> None:
    missing = {
        name: sorted(where)
        for name, where in referenced_metrics().items()
        if name not in registered_names()
    }
    assert not missing, missing


def test_dashboard_panels_cover_the_cluster_and_use_the_provisioned_datasource() -> None:
    board = dashboard()
    assert board["uid"] == "csms-cluster" and board["title"]
    datasources = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    uid = datasources[0]["uid"]
    assert datasources[0]["url"] == "http://prometheus:9090"
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids))
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], panel["title"]
        assert 0 <= panel["gridPos"]["x"] and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    read = set().union(*(metric_names(expr) for _, expr in dashboard_exprs()))
    for topic in (
        "csms_nodes_alive",  # nodes
        "csms_node_connected_chargers",  # chargers held
        "csms_ocpp_messages_total",  # messages/s
        "csms_ocpp_handler_seconds_bucket",  # latency
        "csms_cluster_breakers",  # breakers
        "csms_worker_queue_depth",  # queues
        "csms_alarms_open",  # alarms
        "csms_webhook_deliveries",  # webhooks
    ):
        assert topic in read, topic


def test_dashboard_provisioning_points_at_the_mounted_dashboards() -> None:
    providers = yaml.safe_load(DASHBOARD_PROVIDERS.read_text(encoding="utf-8"))["providers"]
    path = providers[0]["options"]["path"]
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]["volumes"]
    prometheus = compose["services"]["prometheus"]["volumes"]
    assert f"./grafana/dashboards:{path}:ro" in grafana
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus
    for volume in grafana + prometheus:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (DOCKER / source).exists(), source
    json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (Debian: apt-get install docker-compose)",
)
def test_compose_file_is_valid_with_prometheus_and_grafana() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CSMS_")},
        "CSMS_DB_PASSWORD": "db-password",
        "CSMS_JWT_SECRET": "j" * 40,
        "CSMS_FIRMWARE_URL_SECRET": "f" * 40,
        "CSMS_DATA_KEY": "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0=",
        "CSMS_BOOTSTRAP_ADMIN_PASSWORD": "admin-password",
        "CSMS_TLS_CLIENT_ORGANIZATION": "Example Charging",
        "CSMS_METRICS_TOKEN": "scrape-token",
        "CSMS_GRAFANA_ADMIN_PASSWORD": "grafana-password",
    }
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"prometheus", "grafana", "node1", "node2", "backoffice"} <= set(services)
    assert services["prometheus"]["environment"]["CSMS_METRICS_TOKEN"] == "scrape-token"
    # without the Grafana admin password the file refuses to load
    del env["CSMS_GRAFANA_ADMIN_PASSWORD"]
    refused = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "CSMS_GRAFANA_ADMIN_PASSWORD" in refused.stderr
