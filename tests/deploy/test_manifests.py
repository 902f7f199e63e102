"""deploy/: Kubernetes manifests (offline schemas), kustomization, compose, rules copies."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.conftest import REPO, SAMPLE_RULES

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES = "1.30.0"  # oldest version the manifests are meant for

# kubernetes-validate ships the core API schemas only.  ServiceMonitor is a CRD of the
# Prometheus operator: checked against this subset of its schema (monitoring.coreos.com/v1,
# the fields used here), with unknown fields rejected, instead of being skipped silently.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {"matchLabels": {"type": "object"}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "scrapeTimeout": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def _kustomization() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return doc


def _resources() -> list[dict[str, Any]]:
    docs = []
    for name in _kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


@pytest.mark.parametrize("doc", _resources(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_validates_offline(doc: dict[str, Any]) -> None:
    if doc["kind"] == "ServiceMonitor":
        jsonschema.validate(doc, SERVICE_MONITOR)
        return
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_every_manifest_is_in_the_kustomization() -> None:
    listed = set(_kustomization()["resources"])
    patches: set[str] = set()  # patches live in patches/
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk - patches == listed


def test_rules_configmaps_rebuild_the_rules_tree() -> None:
    """Every rules file is in one generated ConfigMap and projected back to its path."""
    deployment = next(d for d in _resources() if d["kind"] == "Deployment")
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "rules"
    )
    projected: dict[str, str] = {}  # path under /rules -> generated ConfigMap name
    for source in volume["projected"]["sources"]:
        cm = source["configMap"]
        generator = next(
            g for g in _kustomization()["configMapGenerator"] if g["name"] == cm["name"]
        )
        keys = {Path(f).name: f for f in generator["files"]}
        items = cm.get("items") or [{"key": k, "path": k} for k in keys]
        assert {i["key"] for i in items} == set(keys), cm["name"]
        for item in items:
            assert keys[item["key"]] == f"rules/{item['path']}", item
            projected[item["path"]] = cm["name"]
    shipped = {str(p.relative_to(K8S / "rules")) for p in (K8S / "rules").rglob("*") if p.is_file()}
    assert set(projected) == shipped


def test_k8s_rules_are_the_sample_rules() -> None:
    for path in (K8S / "rules").rglob("*"):
        if path.is_file():
            twin = SAMPLE_RULES / path.relative_to(K8S / "rules")
            assert filecmp.cmp(path, twin, shallow=False), f"{path} differs from {twin}"


def test_compose_mounts_existing_files() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert services["model"]["entrypoint"] == ["copyguard", "demo-upstream"]
    assert (
        "${COPYGUARD_UPSTREAM:-http://model:9100}" in services["copyguard"]["environment"].values()
    )
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / source).exists(), f"{name}: {source} missing"
    provisioning = DEPLOY / "grafana" / "provisioning"
    board = yaml.safe_load((provisioning / "dashboards" / "copyguard.yaml").read_text())
    target = "/var/lib/grafana/dashboards/copyguard.json"
    assert board["providers"][0]["options"]["path"] == str(Path(target).parent)
    assert any(v.endswith(target + ":ro") for v in services["grafana"]["volumes"])


def test_dockerfile_defaults() -> None:
    text = (REPO / "Dockerfile").read_text()
    for line in (
        "FROM python:3.11-slim AS build",
        "COPY rules /rules",
        "COPYGUARD_RULES=/rules",
        "COPYGUARD_LISTEN=0.0.0.0:8080",
        "USER 10001:10001",
        'ENTRYPOINT ["copyguard", "serve"]',
        "pip install --no-cache-dir .",
    ):
        assert line in text
    assert "curl" not in text.split("HEALTHCHECK", 1)[1]
