"""The Kubernetes manifests render, in each overlay, into objects a current Kubernetes accepts."""

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from jsonschema.protocols import Validator

from deploy.nats_users import generate
from services.assessment.localities import load_localities
from services.kit.natsserver import nats_server_binary
from services.plan.outcomes_plan import load_outcomes_plan
from services.plan.population import load_population
from tests.support.kustomize import Manifest, pod_spec
from tests.support.manifests import APPS, OVERLAYS, rendered

KUBERNETES_VERSION = "1.37"  # the newest whose schemas kubernetes-validate ships (offline)
DATA = Path(__file__).parent / "data"
# The CloudNativePG CRDs' schemas, copied from the operator's repository (each file names its source).
CRD_SCHEMAS = {
    ("postgresql.cnpg.io/v1", "Cluster"): DATA / "cnpg-cluster.schema.json",
    ("postgresql.cnpg.io/v1", "Database"): DATA / "cnpg-database.schema.json",
}
SECRET_WORDS = ("SECRET", "PASSWORD", "SEED", "KEY")
# An app's address inside the cluster, as the Deployments' settings name it.
APP_URL = re.compile(r"^http://([a-z-]+):8000(/|$)")


def closed(schema: Any) -> Any:
    """The CRD's schema refusing unknown fields, as `kubectl apply` does (field validation Strict)."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def crd_validator(api_version: str, kind: str) -> Validator:
    schema = json.loads(CRD_SCHEMAS[(api_version, kind)].read_text())["schema"]
    strict: Validator = jsonschema.Draft4Validator(closed(schema))
    return strict


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid_for_kubernetes_or_its_crd(overlay: str) -> None:
    invalid = []
    for manifest in rendered(overlay):
        what = f"{manifest['kind']}/{manifest['metadata']['name']}"
        key = (manifest["apiVersion"], manifest["kind"])
        if key in CRD_SCHEMAS:
            invalid += [
                f"{what}: {'.'.join(map(str, e.path))}: {e.message}" for e in crd_validator(*key).iter_errors(manifest)
            ]
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            invalid.append(f"{what}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            invalid.append(f"{what}: no schema for {manifest['apiVersion']} in Kubernetes {KUBERNETES_VERSION}")
    assert invalid == []


def test_a_crd_schema_refuses_a_misspelt_field() -> None:
    cluster = next(m for m in rendered("production") if m["kind"] == "Cluster")
    cluster["spec"]["instance"] = 2
    errors = list(crd_validator("postgresql.cnpg.io/v1", "Cluster").iter_errors(cluster))
    assert ["'instance' was unexpected" in error.message for error in errors] == [True]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_app_has_its_deployment_service_budget_autoscaler_and_policy(overlay: str) -> None:
    objects = rendered(overlay)
    names = {(m["kind"], m["metadata"]["name"]) for m in objects}
    kinds = ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy")
    assert sorted((kind, app) for app in APPS for kind in kinds if (kind, app) not in names) == []
    for autoscaler in (m for m in objects if m["kind"] == "HorizontalPodAutoscaler"):
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert [metric["resource"]["name"] for metric in autoscaler["spec"]["metrics"]] == ["cpu"]
        assert autoscaler["spec"]["scaleTargetRef"]["name"] == autoscaler["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_non_root_read_only_and_bounded(overlay: str) -> None:
    loose = []
    for manifest in rendered(overlay):
        spec = pod_spec(manifest)
        if spec is None:
            continue
        if spec["securityContext"].get("runAsNonRoot") is not True:
            loose.append(f"{manifest['metadata']['name']}: may run as root")
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            where = f"{manifest['metadata']['name']}/{container['name']}"
            security = container.get("securityContext", {})
            if (
                security.get("readOnlyRootFilesystem") is not True
                or security.get("allowPrivilegeEscalation") is not False
            ):
                loose.append(f"{where}: writable root or escalation allowed")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                loose.append(f"{where}: keeps capabilities")
            resources = container.get("resources", {})
            if not {"cpu", "memory"} <= set(resources.get("requests", {})) & set(resources.get("limits", {})):
                loose.append(f"{where}: no cpu and memory requests and limits")
    assert loose == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_is_written_in_a_container(overlay: str) -> None:
    inline = [
        f"{manifest['metadata']['name']}/{container['name']}: {entry['name']}"
        for manifest in rendered(overlay)
        if (spec := pod_spec(manifest)) is not None
        for container in [*spec.get("initContainers", []), *spec["containers"]]
        for entry in container.get("env", [])
        if "value" in entry
        and any(word in entry["name"] for word in SECRET_WORDS)
        and not entry["name"].endswith("_FILE")
    ]
    assert inline == []


def test_production_makes_no_secret() -> None:
    assert [m["metadata"]["name"] for m in rendered("production") if m["kind"] == "Secret"] == []


def test_nats_is_three_jetstream_nodes_routed_to_each_other() -> None:
    objects = rendered("production")
    nats = next(m for m in objects if m["kind"] == "StatefulSet" and m["metadata"]["name"] == "nats")
    config = next(m for m in objects if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "nats-config")
    conf = config["data"]["nats.conf"]
    assert nats["spec"]["replicas"] == 3
    assert [f"nats-route://nats-{n}.nats:6222" in conf for n in range(3)] == [True] * 3
    assert "jetstream {" in conf
    assert 'include "auth/accounts.conf"' in conf


def test_postgres_is_a_primary_and_a_standby_with_a_database_and_role_per_app() -> None:
    objects = rendered("production")
    cluster = next(m for m in objects if m["kind"] == "Cluster")
    databases = {m["spec"]["name"]: m["spec"]["owner"] for m in objects if m["kind"] == "Database"}
    roles = {role["name"]: role["passwordSecret"]["name"] for role in cluster["spec"]["managed"]["roles"]}
    assert cluster["spec"]["instances"] == 2
    assert databases == {app: app for app in APPS}
    assert roles == {app: f"pathway-db-{app}" for app in APPS}


def calls(objects: list[Manifest]) -> dict[str, set[str]]:
    """Which other apps each app calls: those its settings' URLs name.

    The gateway's own (`AUTH_JWKS_URL`, set for every app alike) is not a call: it checks its tokens in process.
    """
    called: dict[str, set[str]] = {app: set() for app in APPS}
    for manifest in objects:
        if manifest["kind"] == "Deployment":
            for container in manifest["spec"]["template"]["spec"]["containers"]:
                for entry in container.get("env", []):
                    match = APP_URL.match(str(entry.get("value", "")))
                    if match and match.group(1) != manifest["metadata"]["name"]:
                        called[manifest["metadata"]["name"]].add(match.group(1))
    return called


def peers(rules: list[dict[str, Any]], direction: str) -> tuple[set[str], int]:
    """The apps named by the rules' pod selectors, and how many rules admit whole namespaces."""
    names: set[str] = set()
    namespaces = 0
    for rule in rules:
        for peer in rule.get(direction, []):
            if "namespaceSelector" in peer and peer.get("podSelector") is None:
                namespaces += 1
            name = peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
            if name in APPS:
                names.add(name)
    return names, namespaces


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_app_is_reached_only_by_the_apps_that_call_it_and_only_the_gateway_from_outside(overlay: str) -> None:
    objects = rendered(overlay)
    called = calls(objects)
    assert called["plan"] == {"assessment", "consent", "gateway"}  # PLAN_ASSESSMENT_URL, ACCESS_DECISIONS_URL, tokens
    policies = {m["metadata"]["name"]: m["spec"] for m in objects if m["kind"] == "NetworkPolicy"}
    for app in APPS:
        policy = policies[app]
        assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
        callers, outside = peers(policy["ingress"], "from")
        assert callers == {caller for caller, callees in called.items() if app in callees}, app
        assert outside == (1 if app == "gateway" else 0), app
        callees, _ = peers(policy["egress"], "to")
        assert callees == called[app], app


def test_nats_server_accepts_its_configuration_as_the_pods_mount_it(tmp_path: Path) -> None:
    """nats.conf and the generated accounts, laid out as the StatefulSet's projected volume lays them."""
    objects = rendered("production")
    nats = next(m for m in objects if m["kind"] == "StatefulSet" and m["metadata"]["name"] == "nats")
    spec = nats["spec"]["template"]["spec"]
    container = spec["containers"][0]
    mount = next(mount for mount in container["volumeMounts"] if mount["name"] == "config")
    volume = next(volume for volume in spec["volumes"] if volume["name"] == "config")
    credentials = generate(tmp_path / "users")
    secrets = {"nats-accounts": {"accounts.conf": credentials.accounts_config.read_text()}}
    config_maps = {m["metadata"]["name"]: m["data"] for m in objects if m["kind"] == "ConfigMap"}
    mounted = tmp_path / "mounted"
    for source in volume["projected"]["sources"]:
        kind, reference = next(iter(source.items()))
        data = (config_maps if kind == "configMap" else secrets)[reference["name"]]
        for item in reference.get("items", [{"key": key, "path": key} for key in data]):
            (mounted / item["path"]).parent.mkdir(parents=True, exist_ok=True)
            (mounted / item["path"]).write_text(data[item["key"]])
    assert container["args"] == ["-c", f"{mount['mountPath']}/nats.conf"]
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(mounted / "nats.conf")],
        capture_output=True,
        env={"SERVER_NAME": "nats-0"},
    )
    assert checked.returncode == 0, checked.stderr.decode()


# Each file a council supplies: the app that reads it, the setting naming it and the loader that refuses a bad one.
COUNCIL_FILES: dict[str, tuple[str, str, Callable[[Path], object]]] = {
    "postcode-localities.csv": ("assessment", "ASSESSMENT_LOCALITY_LOOKUP", load_localities),
    "child-population.csv": ("plan", "PLAN_CHILD_POPULATION", load_population),
    "supporting-families-outcomes-plan.yaml": ("plan", "PLAN_SUPPORTING_FAMILIES_PLAN", load_outcomes_plan),
}


def test_production_reads_the_councils_own_files_from_a_config_map_each_service_accepts(tmp_path: Path) -> None:
    """Each setting points at a file of the mounted ConfigMap, and the file as mounted loads as at start."""
    objects = rendered("production")
    config_maps = {m["metadata"]["name"]: m["data"] for m in objects if m["kind"] == "ConfigMap"}
    deployments = {m["metadata"]["name"]: m for m in objects if m["kind"] == "Deployment"}
    read = {}
    for app in {app for app, _, _ in COUNCIL_FILES.values()}:
        spec = deployments[app]["spec"]["template"]["spec"]
        container = next(c for c in spec["containers"] if c["name"] == app)
        settings = {entry["name"]: entry.get("value") for entry in container["env"]}
        for mount in container["volumeMounts"]:
            volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            if "configMap" not in volume:
                continue
            for key, text in config_maps[volume["configMap"]["name"]].items():
                path = f"{mount['mountPath']}/{key}"
                setting = next((name for name, value in settings.items() if value == path), None)
                if setting is not None:
                    read[key] = (app, setting)
                    (tmp_path / key).write_text(text)
                    COUNCIL_FILES[key][2](tmp_path / key)
    assert read == {key: (app, setting) for key, (app, setting, _) in COUNCIL_FILES.items()}
