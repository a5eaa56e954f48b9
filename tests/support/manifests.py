"""What the Kubernetes manifests must agree on with the code: the apps, their probes and their settings.

Each check takes both sides as plain values (a rendered Deployment; whether the app serves a path,
the environment variables its settings read) and answers with the disagreements, so that a test
can change either side alone and see the check fail.
"""

import importlib
import re
import types
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml
from fastapi import FastAPI
from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings
from starlette.routing import Match

from services.kit.settings import ServiceSettings
from tests.support.kustomize import Manifest, build

REPOSITORY = Path(__file__).resolve().parents[2]
K8S = REPOSITORY / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
COMPOSE_FILE = REPOSITORY / "docker-compose.yml"

# Each app and the module whose `create_app` builds it, as the Deployment's uvicorn command names it.
APPS = {
    "gateway": "gateway.main",
    "assessment": "services.assessment.main",
    "consent": "services.consent.main",
    "plan": "services.plan.main",
    "notifications": "services.notifications.main",
}
READINESS = "/readyz"
LIVENESS = "/healthz"
# A default that points at the machine itself is the embedded default's, and wrong in a cluster.
LAPTOP_ADDRESS = "127.0.0.1"
# `$(NAME)` in an env value: Kubernetes puts there the value of an earlier variable of the container.
INTERPOLATION = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@cache
def _rendered(overlay: str) -> list[Manifest]:
    return build(K8S / "overlays" / overlay)


def rendered(overlay: str) -> list[Manifest]:
    """The overlay's objects, rendered once per run; a copy, for a test to change."""
    return deepcopy(_rendered(overlay))


def app_module(app: str) -> types.ModuleType:
    """The module whose `create_app` the app's Deployment runs."""
    return importlib.import_module(APPS[app])


def settings_class(app: str) -> type[ServiceSettings]:
    """The settings class the app's `create_app(settings)` takes."""
    hint = get_type_hints(app_module(app).create_app)["settings"]
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    assert isinstance(hint, type) and issubclass(hint, ServiceSettings)
    return hint


@dataclass(frozen=True)
class Setting:
    """One setting and the environment variables that set it (any one of them)."""

    env_names: frozenset[str]
    default: Any


def _env_names(settings: type[BaseSettings], name: str, field: FieldInfo) -> frozenset[str]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return frozenset({alias.upper()})
    if isinstance(alias, AliasChoices):
        return frozenset(choice.upper() for choice in alias.choices if isinstance(choice, str))
    prefix = settings.model_config.get("env_prefix", "")
    return frozenset({f"{prefix}{name}".upper()})


def settings_of(settings: type[BaseSettings]) -> Iterator[Setting]:
    """Every setting `settings` reads from the environment, those of its blocks with their own prefixes included.

    A block (a field that is itself a `BaseSettings`, made by its default factory) reads its own variables.
    """
    for name, field in settings.model_fields.items():
        block = field.annotation
        if isinstance(block, type) and issubclass(block, BaseSettings):
            yield from settings_of(block)
            continue
        default = field.get_default(call_default_factory=True)
        yield Setting(_env_names(settings, name, field), default)


def env_read(settings: type[BaseSettings]) -> set[str]:
    return {env_name for setting in settings_of(settings) for env_name in setting.env_names}


def laptop_defaults(settings: type[BaseSettings]) -> list[frozenset[str]]:
    """The settings whose default is an address on the machine itself: each must be set in a cluster."""
    return [setting.env_names for setting in settings_of(settings) if LAPTOP_ADDRESS in str(setting.default)]


def compose_environment(app: str) -> set[str]:
    """What docker-compose.yml sets for the app: the production setting the cluster must set too."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    return set(compose["services"][app]["environment"])


def serves_get(app: FastAPI, path: str) -> bool:
    """Whether a GET of `path` reaches one of the app's routes, matched as the app matches a request."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


def deployment_of(objects: Iterable[Manifest], app: str) -> Manifest | None:
    return next((m for m in objects if m["kind"] == "Deployment" and m["metadata"]["name"] == app), None)


def container_of(deployment: Manifest, name: str, init: bool = False) -> dict[str, Any] | None:
    containers = deployment["spec"]["template"]["spec"].get("initContainers" if init else "containers", [])
    return next((c for c in containers if c["name"] == name), None)


def _named_port(container: dict[str, Any], port: int | str) -> int | None:
    if isinstance(port, int):
        return port
    return next((p["containerPort"] for p in container.get("ports", []) if p.get("name") == port), None)


def probe_problems(app: str, deployment: Manifest, serves: Callable[[str], bool]) -> list[str]:
    """The probes' paths are the health paths, which the app serves, on the port its command listens on."""
    container = container_of(deployment, app)
    if container is None:
        return [f"{app}: no container named {app}"]
    command = container.get("command", [])
    problems = []
    if f"{APPS[app]}:create_app" not in command:
        problems.append(f"{app}: the container does not run {APPS[app]}:create_app")
    listening = int(command[command.index("--port") + 1]) if "--port" in command else None
    for kind, expected in (("readinessProbe", READINESS), ("livenessProbe", LIVENESS)):
        probe = container.get(kind, {}).get("httpGet")
        if probe is None:
            problems.append(f"{app}: no HTTP {kind}")
            continue
        path = probe["path"].partition("?")[0]
        if path != expected:
            problems.append(f"{app}: {kind} asks {path}, not {expected}")
        if not serves(path):
            problems.append(f"{app}: {kind} asks {path}, which the app does not serve")
        if _named_port(container, probe["port"]) != listening:
            problems.append(f"{app}: {kind} asks port {probe['port']}, the app listens on {listening}")
    return problems


def env_problems(app: str, container: dict[str, Any], read: set[str], required: Iterable[frozenset[str]]) -> list[str]:
    """Every variable the container sets is one the settings read (or one interpolated into one that is),
    and every required setting is set by one of its names."""
    env = container.get("env", [])
    names = {entry["name"] for entry in env}
    interpolated = {reference for entry in env for reference in INTERPOLATION.findall(str(entry.get("value", "")))}
    problems = [
        f"{app}/{container['name']}: sets {name}, which no setting reads"
        for name in sorted(names - read - interpolated)
    ]
    earlier: set[str] = set()
    for entry in env:
        for name in INTERPOLATION.findall(str(entry.get("value", ""))):
            if name not in earlier:
                problems.append(f"{app}/{container['name']}: interpolates $({name}), which it does not set earlier")
        earlier.add(entry["name"])
    problems += [
        f"{app}/{container['name']}: sets none of {', '.join(sorted(choices))}"
        for choices in required
        if not choices & names
    ]
    return problems


def file_problems(app: str, deployment: Manifest, container: dict[str, Any]) -> list[str]:
    """Each `*_FILE` setting names a file in a volume the container mounts from a Secret."""
    spec = deployment["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
    problems = []
    for entry in container.get("env", []):
        if not entry["name"].endswith("_FILE"):
            continue
        path = Path(entry.get("value", ""))
        secret = volumes.get(mounts.get(str(path.parent), ""), {}).get("secret")
        if secret is None:
            problems.append(f"{app}: {entry['name']} names {path}, in no Secret the container mounts")
        elif "items" in secret and path.name not in {item["path"] for item in secret["items"]}:
            problems.append(f"{app}: {entry['name']} names {path}, which the Secret's items do not hold")
    return problems
