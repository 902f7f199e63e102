"""deploy/k8s as `podman kube play` runs it: the kustomization's ConfigMaps and the
Deployment, rendered the way `kubectl apply -k` would, with what this test changes:

- image `localhost/copyguard:latest` (the one `make image` built), never pulled; 1 replica;
- copyguard's client and admin ports published on host loopback (`hostPort`/`hostIP`), the
  Service's job;
- the projected rules volume written out as the folder it would project and mounted as a
  hostPath: podman 4.3's kube play has no projected volumes, and its ConfigMap volumes
  cannot put items in subfolders.
Everything else (both containers, env, probes, securityContext, emptyDirs) is the manifest's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

K8S = Path(__file__).resolve().parent.parent.parent / "deploy" / "k8s"


def configmaps() -> dict[str, dict[str, str]]:
    """The kustomization's generated ConfigMaps: name -> {key: file text}."""
    kust: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return {
        gen["name"]: {Path(f).name: (K8S / f).read_text() for f in gen["files"]}
        for gen in kust["configMapGenerator"]
    }


def project(volume: dict[str, Any], into: Path) -> None:
    """Write what a projected ConfigMap volume shows into a folder, as kubelet would."""
    data = configmaps()
    for source in volume["projected"]["sources"]:
        cm = source["configMap"]
        files = data[cm["name"]]
        for item in cm.get("items") or [{"key": k, "path": k} for k in files]:
            path = into / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[item["key"]])
            path.chmod(0o644)
            path.parent.chmod(0o755)
    into.chmod(0o755)


def render(image: str, host_ports: dict[int, int], rules_dir: Path) -> dict[str, Any]:
    """The Deployment, ready for `podman kube play` (module docstring: what changes).

    ``host_ports`` maps container ports to the host loopback ports they are published on."""
    dep: dict[str, Any] = yaml.safe_load((K8S / "deployment.yaml").read_text())
    dep["spec"]["replicas"] = 1
    spec = dep["spec"]["template"]["spec"]
    for container in spec["containers"]:
        container["image"] = image
        container["imagePullPolicy"] = "Never"
        for port in container.get("ports", []):
            if port["containerPort"] in host_ports:
                port.update(hostPort=host_ports[port["containerPort"]], hostIP="127.0.0.1")
    for volume in spec["volumes"]:
        if "projected" in volume:
            project(volume, rules_dir)
            del volume["projected"]
            volume["hostPath"] = {"path": str(rules_dir), "type": "Directory"}
    return dep
