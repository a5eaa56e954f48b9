"""Each app's migrations, so that its database is migrated once per session and copied for each test."""

from pathlib import Path

from gateway.main import MIGRATIONS as GATEWAY
from services.access.projection import MIGRATIONS as ACCESS
from services.assessment.main import MIGRATIONS as ASSESSMENT
from services.consent.main import MIGRATIONS as CONSENT
from services.kit.db import Database
from services.kit.migrations import upgrade_database
from services.kit.settings import DatabaseSettings
from services.kit.testing import Migrate
from services.notifications.main import MIGRATIONS as NOTIFICATIONS
from services.plan.main import MIGRATIONS as PLAN

# As each app names them to `create_service_app(migrations_dirs=...)`.
MIGRATIONS: dict[str, list[Path]] = {
    "assessment": [ACCESS, ASSESSMENT],
    "consent": [ACCESS, CONSENT],
    "plan": [ACCESS, PLAN],
    "notifications": [ACCESS, NOTIFICATIONS],
    "gateway": [ACCESS, GATEWAY],
}


def migrate(name: str) -> Migrate:
    """What the app called `name` does to its database at start, before anything else."""
    versions = MIGRATIONS[name]

    async def upgrade(url: str) -> None:
        database = Database(DatabaseSettings(url=url))
        try:
            await upgrade_database(database, versions)
        finally:
            await database.dispose()

    return upgrade
