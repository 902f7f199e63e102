"""deploy/k8s/redis: the optional Redis for budgets validates and points copyguard at itself."""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from proxy.settings import Settings
from tests.deploy.test_manifests import K8S, KUBERNETES

COMPONENT = K8S / "redis"


def _docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((COMPONENT / "redis.yaml").read_text()) if d]


@pytest.mark.parametrize("doc", _docs(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_redis_manifest_validates_offline(doc: dict[str, Any]) -> None:
    """Every Redis resource is valid Kubernetes (strict, offline schemas)."""
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_component_sets_the_budget_store_on_the_copyguard_container() -> None:
    """The patch adds COPYGUARD_BUDGET_STORE (a URL copyguard accepts) to copyguard's container,
    and the Service it names selects the Redis pods on the port Redis listens on."""
    component = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert component["kind"] == "Component" and component["resources"] == ["redis.yaml"]
    (patch,) = component["patches"]
    (op,) = yaml.safe_load(patch["patch"])
    deployment = next(d for d in yaml.safe_load_all((K8S / "deployment.yaml").read_text()) if d)
    index = int(op["path"].split("/")[5])
    assert deployment["spec"]["template"]["spec"]["containers"][index]["name"] == "copyguard"
    url = op["value"]["value"]
    assert Settings(budget_store=url, cache_dir=None).budget_store == url
    service = next(d for d in _docs() if d["kind"] == "Service")
    pod = next(d for d in _docs() if d["kind"] == "Deployment")["spec"]["template"]
    assert url.startswith(
        f"redis://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/"
    )
    assert service["spec"]["selector"] == pod["metadata"]["labels"]
