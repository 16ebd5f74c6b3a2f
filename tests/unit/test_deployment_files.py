"""The production deployment files: the Helm chart lints, renders with the default and a
production-like values file, every rendered manifest validates against the Kubernetes 1.31 schemas
(kubernetes-validate, bundled, nothing fetched), and holds the properties the cluster depends on;
the systemd units pass `systemd-analyze verify` without a warning.

helm is built from the Go module proxy by the Makefile's stamp (.data/opt/bin/helm); the test
fails, not skips, without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "belediye-hizmet-takip"
PRODUCTION_VALUES = REPO / "deploy" / "helm" / "values-production.example.yaml"
SYSTEMD = REPO / "deploy" / "systemd"
KUBERNETES_VERSION = "1.31.0"
SECRET_KEYS = (
    "DATABASE_URL",
    "ENGINE_DATABASE_URL",
    "ENGINE_DATABASE_PASSWORD",
    "ENGINE_PASSWORD",
    "ENGINE_ADMIN_PASSWORD",
    "SMTP_PASSWORD",
    "SMPP_PASSWORD",
    "PERSONAL_DATA_KEYS",
    "WEB_SECRET",
)
# component: (container port name's number, liveness path, readiness path)
PROBES = {
    "api": (8000, "/health/live", "/health"),
    "workers": (9100, "/health/live", "/health/ready"),
    "engine": (8081, "/actuator/health/liveness", "/actuator/health/readiness"),
}


def _helm() -> str:
    found = os.environ.get("HELM") or (
        str(REPO / ".data" / "opt" / "bin" / "helm")
        if (REPO / ".data" / "opt" / "bin" / "helm").exists()
        else shutil.which("helm")
    )
    assert found, "helm not found: `make install` builds it into .data/opt/bin (needs Go)"
    return found


def _render(*values: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    argv = [_helm(), "template", "hizmet", str(CHART), "--kube-version", KUBERNETES_VERSION]
    for file in values:
        argv += ["-f", str(file)]
    for setting in sets:
        argv += ["--set", setting]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["default", "production"])
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    if request.param == "default":
        return _render(sets=("ingress.enabled=true",))
    return _render(PRODUCTION_VALUES)


def _of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _component(doc: dict[str, Any]) -> str:
    labels: dict[str, str] = doc["metadata"]["labels"]
    return labels["app.kubernetes.io/component"]


def test_chart_lints_strictly() -> None:
    result = subprocess.run(
        [_helm(), "lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_every_manifest_validates_against_the_kubernetes_schema(manifests: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in manifests}
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Ingress", "Job"} <= kinds
    for doc in manifests:
        # strict: an unknown field (a typo such as `readinesProbe`) is an error, not ignored.
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_is_refused_by_the_validator() -> None:
    deployment = _of_kind(_render(), "Deployment")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_each_deployment_has_probes_resources_and_a_budget(manifests: list[dict[str, Any]]) -> None:
    deployments = {_component(d): d for d in _of_kind(manifests, "Deployment")}
    assert set(deployments) == set(PROBES)
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    for component, (port, live, ready) in PROBES.items():
        spec = deployments[component]["spec"]
        assert spec["replicas"] >= 2, component
        pod = spec["template"]
        (container,) = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in (("livenessProbe", live), ("readinessProbe", ready)):
            get = container[probe]["httpGet"]
            assert get["path"] == path, (component, probe)
            assert ports[get["port"]] == port, (component, probe)
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), (component, bound)
        selecting = [
            b
            for b in budgets
            if b["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ]
        assert len(selecting) == 1, component
        assert selecting[0]["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_engine_memory_limit_leaves_room_above_the_heap(manifests: list[dict[str, Any]]) -> None:
    (engine,) = [d for d in _of_kind(manifests, "Deployment") if _component(d) == "engine"]
    (container,) = engine["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    heap = re.search(r"-Xmx(\d+)([mg])", env["JAVA_TOOL_OPTIONS"]["value"])
    assert heap
    heap_mib = int(heap[1]) * (1024 if heap[2] == "g" else 1)
    limit = container["resources"]["limits"]["memory"]
    limit_mib = int(limit[:-2]) * (1024 if limit.endswith("Gi") else 1)
    assert limit_mib >= heap_mib * 1.25
    # The engine's database settings: from the Secret, READ COMMITTED, a pool per node.
    assert env["SPRING_DATASOURCE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "ENGINE_DATABASE_URL"
    assert env["SPRING_DATASOURCE_HIKARI_TRANSACTIONISOLATION"]["value"] == "TRANSACTION_READ_COMMITTED"
    assert int(env["SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"]["value"]) > 0
    assert env["OPERATON_BPM_JOB_EXECUTION_ENABLED"]["value"] == "true"


def test_engine_web_apps_have_cookie_affinity_and_the_api_none(manifests: list[dict[str, Any]]) -> None:
    ingresses = {_component(i): i for i in _of_kind(manifests, "Ingress")}
    engine = ingresses["engine"]
    annotations = engine["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"]
    paths = [p["path"] for rule in engine["spec"]["rules"] for p in rule["http"]["paths"]]
    assert paths == ["/operaton"]
    api_annotations = ingresses["api"]["metadata"].get("annotations") or {}
    assert "nginx.ingress.kubernetes.io/affinity" not in api_annotations
    rules = [r for i in ingresses.values() for r in i["spec"]["rules"]]
    every_path = {p["path"] for r in rules for p in r["http"]["paths"]}
    assert not any(p.startswith("/engine-rest") or p.startswith("/actuator") for p in every_path)


def test_no_secret_in_the_config_map(manifests: list[dict[str, Any]]) -> None:
    (config,) = _of_kind(manifests, "ConfigMap")
    assert not set(SECRET_KEYS) & set(config["data"])
    secrets = [s.get("stringData", {}) for s in _of_kind(manifests, "Secret")]
    secret_values = {str(v) for data in secrets for v in data.values() if len(str(v)) > 3}
    assert not secret_values & set(config["data"].values())
    for secret in _of_kind(manifests, "Secret"):
        assert set(secret["stringData"]) >= set(SECRET_KEYS)


def test_a_secret_put_into_config_is_refused() -> None:
    argv = [_helm(), "template", "h", str(CHART), "--kube-version", KUBERNETES_VERSION]
    result = subprocess.run(
        [*argv, "--set", "config.WEB_SECRET=x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "is a secret" in result.stderr


def test_existing_secret_renders_no_secret_and_is_referenced() -> None:
    docs = _render(PRODUCTION_VALUES)
    assert not _of_kind(docs, "Secret")
    references = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for d in _of_kind(docs, "Deployment") + _of_kind(docs, "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert references == {"belediye-hizmet-takip"}


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(manifests: list[dict[str, Any]]) -> None:
    jobs = {_component(j): j for j in _of_kind(manifests, "Job")}
    migrations = jobs["migrations"]
    hooks = migrations["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"pre-install", "pre-upgrade"}
    (container,) = migrations["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["alembic", "upgrade", "head"]
    # Its Secret, when the chart makes one, is a hook that comes before it.
    for secret in _of_kind(manifests, "Secret"):
        weight = int(secret["metadata"]["annotations"]["helm.sh/hook-weight"])
        assert weight < int(migrations["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert jobs["diagrams"]["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True, check=False
    )


def _units_for_verify(target: Path) -> list[Path]:
    """The units, copied with our installed programs (absent on this machine) replaced by
    /usr/bin/true: `verify` refuses an ExecStart that is not executable, and everything else it
    checks (keys, sections, dependencies, the hardening options) stays as shipped. The template is
    verified as instance @1."""
    units = []
    for unit in sorted([*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.target")]):
        text = re.sub(r"/opt/belediye-hizmet-takip/venv/bin/[\w-]+", "/usr/bin/true", unit.read_text())
        name = unit.name.replace("@.service", "@1.service")
        (target / name).write_text(text)
        units.append(target / name)
    return units


def test_systemd_units_verify_without_a_warning(tmp_path: Path) -> None:
    units = _units_for_verify(tmp_path)
    assert {u.name for u in units} >= {
        "belediye-api.service",
        "belediye-workers.service",
        "belediye-workers@1.service",
        "belediye-engine.service",
        "belediye-hizmet-takip.target",
    }
    result = _verify(units)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""
    for unit in units:
        if unit.suffix == ".service":
            text = unit.read_text()
            for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
                assert line in text, (unit.name, line)
            # Long-running ones come back; the migrations (oneshot) fail the start instead.
            assert "Restart=on-failure" in text or "Type=oneshot" in text, unit.name
            assert "EnvironmentFile=/etc/belediye-hizmet-takip/" in text, unit.name
            assert "User=" in text and "User=root" not in text, unit.name


def test_systemd_verify_reports_a_misspelt_option(tmp_path: Path) -> None:
    units = _units_for_verify(tmp_path)
    api = tmp_path / "belediye-api.service"
    api.write_text(api.read_text().replace("ProtectSystem=", "ProtectSytem="))
    assert "Unknown key 'ProtectSytem'" in _verify(units).stderr


def test_env_examples_hold_no_real_secret() -> None:
    for example in SYSTEMD.glob("*.env.example"):
        for line in example.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.endswith(("PASSWORD", "_KEYS", "SECRET")):
                assert value in ("", "DEGISTIRIN", "DEGISTIR"), (example.name, key)
