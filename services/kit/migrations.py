"""Alembic wiring: the kit's tables on a branch of their own, each service's beside them.

A service keeps its revisions in `<service>/migrations/versions/`; the kit keeps
the outbox and inbox tables in `kit/alembic/versions/` under the branch label
`kit`; a shared package with tables of its own (`services/access`) keeps them in
its own `migrations/versions/`, and the apps that use it name that folder too.
`upgrade_database` applies every head at start, holding an advisory
lock on PostgreSQL so that replicas starting together migrate once.

To write a revision for a service:
    python -m services.kit.migrations services/<service>/migrations/versions -m "add a column"
"""

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.kit.db import Database

ALEMBIC_DIR = Path(__file__).parent / "alembic"
_MIGRATION_LOCK_KEY = 0x6D696772617465


def alembic_config(versions_dirs: Sequence[Path] = ()) -> Config:
    locations = [ALEMBIC_DIR / "versions", *versions_dirs]
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(path) for path in locations))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


async def upgrade_database(database: Database, versions_dirs: Sequence[Path] = ()) -> None:
    config = alembic_config(versions_dirs)
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        await connection.run_sync(_upgrade, config)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a new, empty migration for a service.")
    parser.add_argument("versions_dir", type=Path, help="e.g. services/<service>/migrations/versions")
    parser.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    versions_dir: Path = args.versions_dir.resolve()
    versions_dir.mkdir(parents=True, exist_ok=True)
    service = versions_dir.parent.parent.name  # each service's revisions carry its name as branch label
    config = alembic_config([versions_dir])
    has_revisions = any(
        service in (revision.branch_labels or ()) for revision in ScriptDirectory.from_config(config).walk_revisions()
    )
    command.revision(
        config,
        message=args.message,
        head=f"{service}@head" if has_revisions else "base",
        branch_label=None if has_revisions else service,
        version_path=str(versions_dir),
    )


if __name__ == "__main__":
    main()
