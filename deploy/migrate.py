"""Brings one app's database up to its latest migrations, then exits.

Kubernetes runs it as each Deployment's init container (`deploy/k8s/base/<app>/deployment.yaml`):
`python -m deploy.migrate plan`. Every app also migrates at start, under an advisory lock on
PostgreSQL, so this applies nothing the app would not; run first, a migration that fails stops the
new pods in their init container, before any of them takes traffic, and the app finds its schema
current. It imports only the app's settings, not the app: a start this short need not load every
route. `tests/deploy/test_agreement.py` holds the folders below to those each app's `create_app` applies.
"""

import asyncio
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

from services.kit.db import Database
from services.kit.migrations import upgrade_database
from services.kit.settings import ServiceSettings

REPOSITORY = Path(__file__).resolve().parent.parent
# The access copy's tables, which every app keeps (`services.access.projection.MIGRATIONS`).
ACCESS_MIGRATIONS = REPOSITORY / "services" / "access" / "migrations" / "versions"


@dataclass(frozen=True)
class App:
    package: str
    settings: str  # the settings class in the package's config module

    @property
    def migrations_dirs(self) -> list[Path]:
        """The access copy's folder, then the app's own, as its `create_app` names them."""
        return [ACCESS_MIGRATIONS, REPOSITORY.joinpath(*self.package.split("."), "migrations", "versions")]

    def settings_class(self) -> type[ServiceSettings]:
        found: type[ServiceSettings] = getattr(importlib.import_module(f"{self.package}.config"), self.settings)
        return found


APPS = {
    "assessment": App("services.assessment", "AssessmentSettings"),
    "consent": App("services.consent", "ConsentSettings"),
    "plan": App("services.plan", "PlanSettings"),
    "notifications": App("services.notifications", "NotificationsSettings"),
    "gateway": App("gateway", "GatewaySettings"),
}


async def migrate(app: str) -> None:
    database = Database(APPS[app].settings_class()().database)
    try:
        await upgrade_database(database, APPS[app].migrations_dirs)
    finally:
        await database.dispose()


def main(arguments: list[str]) -> None:
    match arguments:
        case [app] if app in APPS:
            asyncio.run(migrate(app))
            print(f"{app}: database migrated")
        case _:
            sys.exit(f"usage: python -m deploy.migrate {'|'.join(APPS)}")


if __name__ == "__main__":
    main(sys.argv[1:])
