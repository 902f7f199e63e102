"""The sidecar pod from deploy/k8s run by `podman kube play` (tests/image/kube.py says what
is rendered and why): the demo model server and copyguard share the pod's loopback, only
copyguard's port is reached from the host; a clean answer passes whole, a protected one is
cut, the decision shows in the metrics scraped from the host."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from proxy.matching.engines import load_matcher
from proxy.rules import load_rules
from proxy.scan import scan_text
from tests.conftest import SAMPLE_RULES
from tests.image.conftest import Engine, free_port, http_ok, wait_for
from tests.image.kube import render

CLEAN = "Rainbows appear when sunlight is refracted, reflected and dispersed inside raindrops."


def ask(base: str, prompt: str, stream: bool) -> tuple[str, str]:
    """(text, finish_reason) an openai SDK client gets."""
    with OpenAI(base_url=base + "/v1", api_key="sk-pod", max_retries=0, timeout=60) as c:
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": prompt}]
        if not stream:
            resp = c.chat.completions.create(model="demo", messages=messages)
            return resp.choices[0].message.content or "", str(resp.choices[0].finish_reason)
        out, finish = "", ""
        for chunk in c.chat.completions.create(model="demo", messages=messages, stream=True):
            for choice in chunk.choices:
                out += choice.delta.content or ""
                finish = choice.finish_reason or finish
        return out, finish


@dataclass(frozen=True)
class Pod:
    url: str  # client traffic (the Service's http port)
    admin: str  # /metrics and /admin/reload (the admin port, as the ServiceMonitor scrapes)


@pytest.fixture(scope="module")
def pod(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    """`podman kube play` of the rendered Deployment; `kube down` after."""
    if engine.name != "podman":
        pytest.skip("the pod test needs podman (`kube play`)")
    tmp = tmp_path_factory.mktemp("pod")
    port, admin = free_port(), free_port()
    manifest = tmp / "pod.yaml"
    rendered = render(engine.image, {8080: port, 8081: admin}, tmp / "rules")
    manifest.write_text(yaml.safe_dump(rendered))
    # kube play has no --runtime or --ulimit: the same choices through containers.conf.
    runtime, nofile, nproc = engine.limits
    conf = tmp / "containers.conf"
    conf.write_text(
        f'[engine]\nruntime = "{runtime}"\n'
        f'[containers]\ndefault_ulimits = ["{nofile}", "{nproc}"]\n'
    )
    engine.env = os.environ | {"CONTAINERS_CONF": str(conf)}
    engine("kube", "play", "--network=podman", str(manifest))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_ok(url + "/readyz"), "the pod's copyguard /readyz")
        yield Pod(url, f"http://127.0.0.1:{admin}")
    finally:
        engine("kube", "down", str(manifest), check=False)
        engine.env = None


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_pod_clean_and_protected(pod: Pod, stream: bool) -> None:
    """Through the pod's only published port: a clean answer arrives whole, the demo model's
    reproduction of the lighthouse poem ends with content_filter and no min_words run."""
    assert ask(pod.url, f"echo: {CLEAN}", stream) == (CLEAN, "stop")
    text, finish = ask(pod.url, "Recite the lighthouse poem.", stream)
    assert finish == "content_filter"
    index = load_matcher(load_rules(SAMPLE_RULES), None)[0]
    assert scan_text(index, text) == []
    assert text.startswith("Certainly")  # the lead-in arrives; the poem does not


def test_pod_metrics_and_isolation(engine: Engine, pod: Pod) -> None:
    """Metrics scraped from the host on the admin port attribute the blocks to the work, and
    are not served on the client port; the pod publishes only copyguard's two ports (the model
    server binds the pod's loopback).  The probes are checked
    from the host: podman 4.3 turns httpGet probes into `curl -f http://localhost:0/...` (a
    named port is not resolved) and tcpSocket ones into `nc`, neither in the image."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(pod.url + "/metrics", timeout=5)
    refused.value.close()  # an HTTPError holds its response open
    assert refused.value.code == 404
    with urllib.request.urlopen(pod.admin + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    found = re.findall(r'copyguard_findings_total\{[^}]*work="([^"]+)"[^}]*\} (\S+)', metrics)
    assert "poems/lighthouse-keeper" in {w for w, _ in found}, found
    blocked = sum(
        float(v) for v in re.findall(r"copyguard_blocked_streams_total\{[^}]*\} (\S+)", metrics)
    )
    assert blocked >= 2
    ports = engine(
        "pod", "inspect", "--format", "{{json .InfraConfig.PortBindings}}", "copyguard-pod-0"
    )
    assert sorted(yaml.safe_load(ports)) == ["8080/tcp", "8081/tcp"], ports
    assert http_ok(pod.url + "/healthz") and http_ok(pod.url + "/readyz")
