"""The manifests agree with the code: an app for each Deployment, probes on the paths it serves,
the settings it reads and the migrations it applies. Each check is shown to fail when one side
changes alone."""

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy import migrate, nats_users
from services.kit.migrations import alembic_config
from services.kit.settings import NatsSettings
from services.kit.testing import DatabaseFactory
from tests.support.kustomize import Manifest
from tests.support.manifests import (
    APPS,
    OVERLAYS,
    REPOSITORY,
    app_module,
    compose_environment,
    container_of,
    deployment_of,
    env_problems,
    env_read,
    file_problems,
    laptop_defaults,
    probe_problems,
    rendered,
    serves_get,
    settings_class,
)


def deployment(overlay: str, app: str) -> Manifest:
    found = deployment_of(rendered(overlay), app)
    assert found is not None, f"no Deployment of {app} in {overlay}"
    return found


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    """Each app, built as its Deployment's command builds it (never started: only its routes are asked)."""
    monkeypatch = pytest.MonkeyPatch()
    # The embedded default makes the consent service's signing key and the notifications secrets key here.
    monkeypatch.setenv("PATHWAY_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    try:
        return {app: app_module(app).create_app(settings_class(app)()) for app in APPS}
    finally:
        monkeypatch.undo()


def serving(app: FastAPI, *, but: str = "") -> Callable[[str], bool]:
    """What the app serves; `but` a path it stopped serving."""
    return lambda path: path != but and serves_get(app, path)


def required(app: str) -> list[frozenset[str]]:
    """What the cluster must set: what docker-compose.yml sets, and every setting whose default is the laptop's."""
    return [frozenset({name}) for name in sorted(compose_environment(app))] + laptop_defaults(settings_class(app))


def app_container(manifest: Manifest, app: str) -> dict[str, Any]:
    container = container_of(manifest, app)
    assert container is not None
    return container


def test_every_deployment_is_an_app_and_every_app_has_one() -> None:
    for overlay in OVERLAYS:
        deployments = {m["metadata"]["name"] for m in rendered(overlay) if m["kind"] == "Deployment"}
        assert deployments == set(APPS)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("app", APPS)
def test_probes_ask_the_health_paths_the_app_serves(overlay: str, app: str, apps: dict[str, FastAPI]) -> None:
    assert probe_problems(app, deployment(overlay, app), serving(apps[app])) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("app", APPS)
def test_the_environment_is_what_the_settings_read_and_sets_what_they_need(overlay: str, app: str) -> None:
    manifest = deployment(overlay, app)
    read = env_read(settings_class(app))
    assert env_problems(app, app_container(manifest, app), read, required(app)) == []
    assert file_problems(app, manifest, app_container(manifest, app)) == []
    # Otherwise Kubernetes sets a <SERVICE>_PORT variable for each Service, some under the settings' prefixes.
    assert manifest["spec"]["template"]["spec"]["enableServiceLinks"] is False
    migrating = container_of(manifest, "migrate", init=True)
    assert migrating is not None
    assert migrating["command"] == ["python", "-m", "deploy.migrate", app]
    database_url = [frozenset({"DATABASE_URL"})]
    assert env_problems(app, migrating, env_read(migrate.APPS[app].settings_class()), database_url) == []


def test_a_probe_path_changed_in_the_manifest_alone_fails(apps: dict[str, FastAPI]) -> None:
    manifest = deployment("production", "plan")
    app_container(manifest, "plan")["readinessProbe"]["httpGet"]["path"] = "/ready"
    assert probe_problems("plan", manifest, serving(apps["plan"])) == [
        "plan: readinessProbe asks /ready, not /readyz",
        "plan: readinessProbe asks /ready, which the app does not serve",
    ]


def test_a_probe_path_the_app_no_longer_serves_fails(apps: dict[str, FastAPI]) -> None:
    serves = serving(apps["consent"], but="/healthz")
    assert probe_problems("consent", deployment("production", "consent"), serves) == [
        "consent: livenessProbe asks /healthz, which the app does not serve"
    ]


def test_a_probe_on_another_port_fails(apps: dict[str, FastAPI]) -> None:
    manifest = deployment("dev", "gateway")
    app_container(manifest, "gateway")["livenessProbe"]["httpGet"]["port"] = 8080
    assert probe_problems("gateway", manifest, serving(apps["gateway"])) == [
        "gateway: livenessProbe asks port 8080, the app listens on 8000"
    ]


def test_an_env_var_renamed_in_the_manifest_alone_fails() -> None:
    manifest = deployment("production", "notifications")
    container = app_container(manifest, "notifications")
    entry = next(entry for entry in container["env"] if entry["name"] == "NOTIFICATIONS_PLAN_URL")
    entry["name"] = "NOTIFICATIONS_PLANS_URL"
    read = env_read(settings_class("notifications"))
    assert env_problems("notifications", container, read, required("notifications")) == [
        "notifications/notifications: sets NOTIFICATIONS_PLANS_URL, which no setting reads",
        "notifications/notifications: sets none of NOTIFICATIONS_PLAN_URL",
        "notifications/notifications: sets none of NOTIFICATIONS_PLAN_URL, PLAN_URL",
    ]


def test_an_env_var_the_settings_no_longer_read_fails() -> None:
    container = app_container(deployment("production", "assessment"), "assessment")
    read = env_read(settings_class("assessment")) - {"ACCESS_DECISIONS_URL"}
    assert env_problems("assessment", container, read, required("assessment")) == [
        "assessment/assessment: sets ACCESS_DECISIONS_URL, which no setting reads"
    ]


def test_a_setting_newly_needed_and_unset_fails() -> None:
    container = app_container(deployment("production", "consent"), "consent")
    needed = [*required("consent"), frozenset({"CONSENT_NEW_SERVICE_URL"})]
    assert env_problems("consent", container, env_read(settings_class("consent")), needed) == [
        "consent/consent: sets none of CONSENT_NEW_SERVICE_URL"
    ]


def test_a_file_setting_outside_the_mounted_secret_fails() -> None:
    manifest = deployment("production", "consent")
    container = app_container(manifest, "consent")
    entry = next(entry for entry in container["env"] if entry["name"] == "CONSENT_AUDIT_SIGNING_KEY_FILE")
    entry["value"] = "/run/secrets/audit/key.pem"
    assert file_problems("consent", manifest, container) == [
        "consent: CONSENT_AUDIT_SIGNING_KEY_FILE names /run/secrets/audit/key.pem, which the Secret's items do not hold"
    ]
    entry["value"] = "/run/secrets/signing-key.pem"
    assert file_problems("consent", manifest, container) == [
        "consent: CONSENT_AUDIT_SIGNING_KEY_FILE names /run/secrets/signing-key.pem, in no Secret the container mounts"
    ]


def test_the_password_is_only_interpolated_into_the_database_url() -> None:
    container = app_container(deployment("production", "plan"), "plan")
    container["env"] = [entry for entry in container["env"] if entry["name"] != "ROLE_PASSWORD"]
    read = env_read(settings_class("plan"))
    assert env_problems("plan", container, read, required("plan")) == [
        "plan/plan: interpolates $(ROLE_PASSWORD), which it does not set earlier"
    ]


@pytest.mark.parametrize("app", APPS)
def test_the_migration_step_applies_the_folders_the_app_applies(
    app: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = app_module(app)
    applied: list[list[Path]] = []

    def recording(*args: Any, migrations_dirs: list[Path], **kwargs: Any) -> FastAPI:
        applied.append(list(migrations_dirs))
        return FastAPI()

    monkeypatch.setenv("PATHWAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(module, "create_service_app", recording)
    module.create_app(settings_class(app)())
    assert applied == [migrate.APPS[app].migrations_dirs]
    assert migrate.APPS[app].settings_class() is settings_class(app)


def env_value(container: dict[str, Any], name: str) -> Any:
    return next((entry.get("value") for entry in container.get("env", []) if entry["name"] == name), None)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_process_signs_in_to_nats_as_its_own_user(overlay: str) -> None:
    objects = rendered(overlay)
    users = {user.name: user for user in nats_users.users()}
    assert set(users) == {*APPS, nats_users.STREAMS_USER}
    streams_job = next(m for m in objects if m["kind"] == "Job" and m["metadata"]["name"] == "nats-streams")
    processes = {app: deployment(overlay, app) for app in APPS} | {nats_users.STREAMS_USER: streams_job}
    for user, manifest in processes.items():
        spec = manifest["spec"]["template"]["spec"]
        container = spec["containers"][0]
        seeds = [volume["secret"]["secretName"] for volume in spec["volumes"] if volume["name"] == "nats-seed"]
        assert seeds == [f"nats-seed-{user}"], user
        assert env_value(container, "NATS_INBOX_PREFIX") == users[user].inbox_prefix, user
        assert env_value(container, "NATS_MANAGE_STREAMS") == ("false" if user in APPS else None), user
    provisioning = streams_job["spec"]["template"]["spec"]["containers"][0]
    assert provisioning["command"] == ["python", "-m", "deploy.nats_users", "provision"]
    assert env_problems("nats-streams", provisioning, env_read(NatsSettings), [frozenset({"NATS_URL"})]) == []


async def test_the_init_container_s_command_brings_an_empty_database_to_the_app_s_heads(
    database_factory: DatabaseFactory,
) -> None:
    app = "consent"  # one app: each is held above to the folders its create_app applies
    url = await database_factory("migrate")
    environment = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(REPOSITORY)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deploy.migrate", app, cwd=REPOSITORY, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert (process.returncode, output.decode().strip().splitlines()[-1]) == (0, f"{app}: database migrated")
    heads = ScriptDirectory.from_config(alembic_config(migrate.APPS[app].migrations_dirs)).get_heads()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            applied = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    finally:
        await engine.dispose()
    assert sorted(applied) == sorted(heads)
