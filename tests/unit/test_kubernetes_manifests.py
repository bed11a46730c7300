"""deploy/kubernetes/: every manifest validates against the Kubernetes API schemas (the
``kubernetes-validate`` package, strict: no unknown field), and the manifests agree with
each other and with the code: probes on paths the processes serve, settings that exist,
Secrets and ConfigMaps that are there, selectors that select, a drain that fits the grace
period, memory for the chargers a node is sized for (docs/performance.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from backoffice.app import create_app
from csms.node.server import HEALTH_PATH, READY_PATH
from csms.secretbox import new_key
from csms.settings import BackofficeSettings, NodeSettings, WorkerSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
# The oldest Kubernetes still commonly run, and the newest the package knows.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
SETTINGS = {
    f"CSMS_{name.upper()}"
    for cls in (NodeSettings, BackofficeSettings, WorkerSettings)
    for name in cls.model_fields
}
# docs/performance.md: RSS at start and per connected charger; docs/topics/deployment.md
# sizes a node for this many chargers
BASE_MIB, PER_CHARGER_KIB, CHARGERS_PER_NODE = 61.4, 20.4, 10_000


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
ALL = [(path.name, doc) for path in MANIFESTS for doc in documents(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in ALL if doc["kind"] == kind}


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for _, doc in ALL:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in pod_specs():
        for container in spec["containers"]:
            yield name, container


def quantity_mib(value: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    return float(value[:-2]) * units[value[-2:]]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "doc"), ALL, ids=[f"{n}:{d['kind']}" for n, d in ALL])
def test_every_manifest_validates(name: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_kustomization_applies_every_manifest_but_the_example_secrets() -> None:
    (kustomization,) = documents(DEPLOY / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in MANIFESTS if p.name != "secrets.example.yaml"
    )
    used = {c["image"] for _, c in containers()}
    assert used == {image["name"] for image in kustomization["images"]}


def test_every_setting_exists_and_every_secret_and_config_is_there() -> None:
    secrets = {(name, key) for name, doc in of_kind("Secret").items() for key in doc["stringData"]}
    configs = of_kind("ConfigMap")
    for config in configs.values():
        assert set(config["data"]) <= SETTINGS, set(config["data"]) - SETTINGS
    for name, container in containers():
        for env in container.get("env", []):
            assert env["name"] in SETTINGS, f"{name}: {env['name']} is no setting"
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert (ref["name"], ref["key"]) in secrets, f"{name}: {ref}"
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] in configs


def test_selectors_select_the_pods() -> None:
    deployments = of_kind("Deployment")
    labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels[name].items()
    for kind in ("PodDisruptionBudget", "Service"):
        for name, doc in of_kind(kind).items():
            selector = doc["spec"].get("selector")
            selector = selector.get("matchLabels", selector)
            assert any(selector.items() <= pod.items() for pod in labels.values()), name


def test_services_and_ingress_reach_named_ports() -> None:
    ports = {(name, port["name"]) for name, c in containers() for port in c.get("ports", [])}
    services = of_kind("Service")
    for name, service in services.items():
        component = service["spec"]["selector"]["app.kubernetes.io/component"]
        for port in service["spec"]["ports"]:
            assert (f"csms-{component}", port["targetPort"]) in ports, name
    for rule in of_kind("Ingress")["csms"]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in names


def test_nodes_are_ready_only_with_their_dependencies_and_drain() -> None:
    node = of_kind("Deployment")["csms-node"]
    spec = node["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == READY_PATH
    assert container["livenessProbe"]["httpGet"]["path"] == HEALTH_PATH
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] >= int(sleep[1]) + 30  # room to drain
    assert node["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert of_kind("PodDisruptionBudget")["csms-node"]["spec"]["maxUnavailable"] == 1
    env = {e["name"]: e for e in container["env"]}
    assert env["CSMS_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_node_memory_fits_the_chargers_it_is_sized_for() -> None:
    (container,) = of_kind("Deployment")["csms-node"]["spec"]["template"]["spec"]["containers"]
    needed = BASE_MIB + CHARGERS_PER_NODE * PER_CHARGER_KIB / 1024
    request = quantity_mib(container["resources"]["requests"]["memory"])
    limit = quantity_mib(container["resources"]["limits"]["memory"])
    assert needed <= request < limit


def test_backoffice_probes_are_routes_of_the_app() -> None:
    paths = set(create_app(BackofficeSettings()).openapi()["paths"])
    (container,) = of_kind("Deployment")["csms-backoffice"]["spec"]["template"]["spec"][
        "containers"
    ]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in paths


def test_websocket_proxy_timeouts_outlast_the_quiet_between_heartbeats() -> None:
    annotations = of_kind("Ingress")["csms"]["metadata"]["annotations"]
    settings = NodeSettings()
    assert settings.ws_ping_interval is not None
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        timeout = int(annotations[f"nginx.ingress.kubernetes.io/{key}"])
        assert timeout > settings.heartbeat_interval > settings.ws_ping_interval


PROCESSES = {"csms-node": NodeSettings, "csms-backoffice": BackofficeSettings}
PROCESSES["csms-worker"] = WorkerSettings


@pytest.mark.parametrize("deployment", sorted(PROCESSES))
def test_each_process_passes_its_production_checks(
    deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the process checks at start when CSMS_ENV=production (secrets set, long enough)
    holds with the manifests' environment: every required secret is passed to it."""
    (container,) = dict(pod_specs())[deployment]["containers"]
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment.update(of_kind("ConfigMap")[source["configMapRef"]["name"]]["data"])
    for env in container.get("env", []):
        source = env.get("valueFrom", {})
        if "secretKeyRef" in source and source["secretKeyRef"]["key"] == "data-key":
            environment[env["name"]] = new_key()  # base64 of 32 random bytes, as documented
        elif "secretKeyRef" in source:  # a real secret's value: long and random
            environment[env["name"]] = f"{source['secretKeyRef']['key']}-" + "s" * 48
        elif "fieldRef" in source:
            environment[env["name"]] = f"{deployment}-0"
        else:
            environment[env["name"]] = env["value"]
    assert environment["CSMS_ENV"] == "production"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    PROCESSES[deployment]().check_safe()


def test_the_ingress_admits_a_firmware_upload() -> None:
    annotations = of_kind("Ingress")["csms"]["metadata"]["annotations"]
    body = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert body.endswith("m")
    assert int(body[:-1]) * 1024**2 >= BackofficeSettings().firmware_max_bytes
