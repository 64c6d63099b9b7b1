"""The Kubernetes manifests (deploy/k8s/studio.yaml) say what docs/deployment.md promises: viewer
replicas ready only once warm, alive on /_stcore/health, the artifacts read-only, one cookie
secret, ingress-nginx cookie affinity, the proxy's limits, and memory sized from the measured
replica."""

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML: requirements.txt

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "deploy" / "k8s" / "studio.yaml"


@pytest.fixture(scope="module")
def kinds() -> dict:
    docs = [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]
    return {d["kind"]: d for d in docs}


def _gib(quantity: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(Mi|Gi)", quantity).groups()
    return float(number) / (1024 if unit == "Mi" else 1)


def test_the_deployment_runs_warm_viewer_replicas_on_read_only_artifacts(kinds):
    spec = kinds["Deployment"]["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][-2:] == ["run", "dashboard.py"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CIFAR10_STUDIO_VIEWER"]["value"] == "1"
    secret = env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret["name"] and secret["key"], "every replica reads one cookie secret"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["artifacts"]["readOnly"] is True
    assert mounts["artifacts"]["mountPath"] == env["CIFAR10_ARTIFACTS"]["value"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["artifacts"]["persistentVolumeClaim"]["readOnly"] is True
    assert kinds["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert "--server.scriptHealthCheckEnabled=true" in container["args"]
    assert pod["terminationGracePeriodSeconds"] >= 10


def test_ready_means_warm_and_alive_means_answering(kinds):
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    ready = container["readinessProbe"]["exec"]["command"]
    assert ready[:3] == ["python", "-m", "core.serving.readiness"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CIFAR10_STUDIO_READY_FILE"], "the probe reads the ready file the warm-up writes"
    assert container["livenessProbe"]["httpGet"]["path"] == "/_stcore/health"


def test_resources_are_sized_from_the_measured_replica(kinds):
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    measured = re.search(r"warm replica: ([\d.]+) GiB", MANIFESTS.read_text())
    assert measured, "the manifest notes the measured memory of one warm replica"
    assert float(measured.group(1)) <= _gib(requests["memory"]) < _gib(limits["memory"])
    assert requests["cpu"]


def test_the_ingress_sticks_sessions_with_a_cookie_and_keeps_the_proxy_limits(kinds):
    ingress = kinds["Ingress"]
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert notes[prefix + "affinity"] == "cookie"
    assert notes[prefix + "affinity-mode"] == "persistent"
    assert notes[prefix + "session-cookie-name"]
    assert notes[prefix + "proxy-body-size"] == "21m"
    assert int(notes[prefix + "proxy-read-timeout"]) >= 3600
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == kinds["Service"]["metadata"]["name"]


def test_the_readiness_probe_fails_until_the_ready_file_is_written(tmp_path, monkeypatch):
    from core.serving import readiness

    ready = tmp_path / "ready"
    monkeypatch.setenv(readiness.READY_FILE_ENV, str(ready))
    assert readiness.main(["--port", "1"]) == 1  # nothing answers on port 1
    readiness.mark_ready(["custom"], {}, "artifacts")
    assert readiness.main(["--port", "1"]) == 0
    assert readiness.read_ready(ready)["models"] == ["custom"]


def test_a_replica_counts_the_uploads_it_is_answering_for_the_roll(tmp_path, monkeypatch):
    # core.serving.cluster stops a rolled replica only once this count is 0.
    from core.serving import readiness

    busy = tmp_path / "r1-8501.busy"
    monkeypatch.setenv(readiness.BUSY_FILE_ENV, str(busy))
    assert readiness.answering_now(busy) == 0
    with readiness.answering():
        with readiness.answering():
            assert readiness.answering_now(busy) == 2
        assert readiness.answering_now(busy) == 1
    assert readiness.answering_now(busy) == 0
