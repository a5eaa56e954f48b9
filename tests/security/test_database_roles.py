"""`deploy/postgres/init-databases.sql` gives each service a role of its own that connects to its own database only.

The file is run with psql, as the postgres image runs it, against the local PostgreSQL, every service's name
prefixed with a scratch one so that nothing else on the server is touched; what it made is removed afterwards.
"""

import os
import re
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

INIT_SQL = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "init-databases.sql"
SERVICES = ("assessment", "consent", "plan", "notifications", "gateway")
HOST, ADMIN = "127.0.0.1", "postgres"  # the local server every machine of the project runs


def _scratch(sql: str, prefix: str) -> str:
    """The file with every service's database and role renamed `<prefix><service>`; comments as they are."""
    names = re.compile(rf"\b({'|'.join(SERVICES)})\b")
    return "\n".join(line if line.startswith("--") else names.sub(rf"{prefix}\1", line) for line in sql.splitlines())


def _passwords() -> dict[str, str]:
    return {f"{service.upper()}_DATABASE_PASSWORD": f"{service}-{uuid.uuid4().hex}" for service in SERVICES}


def _psql(script: Path, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """psql run on the file as the postgres image runs it, with these passwords and no others in its environment."""
    command = ["psql", "-h", HOST, "-U", ADMIN, "-d", "postgres", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f"]
    environment = {name: value for name, value in os.environ.items() if not name.endswith("_DATABASE_PASSWORD")}
    return subprocess.run(
        [*command, str(script)], env=environment | passwords, capture_output=True, text=True, check=False
    )


async def _drop(prefix: str) -> None:
    admin = await asyncpg.connect(host=HOST, user=ADMIN, database="postgres")
    try:
        for service in SERVICES:
            name = f"{prefix}{service}"
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await admin.close()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A scratch prefix for the databases and roles; whatever they are is dropped after the test."""
    chosen = f"scratch_{uuid.uuid4().hex[:8]}_"
    yield chosen
    await _drop(chosen)


async def _reaches(role: str, database: str) -> str:
    """'connected, wrote and read' when the role opens the database and keeps a table there, else the refusal."""
    try:
        connection = await asyncpg.connect(host=HOST, user=role, database=database)
    except asyncpg.InsufficientPrivilegeError as refused:
        return f"refused: {refused}"
    try:
        await connection.execute("CREATE TABLE kept (id integer PRIMARY KEY)")
        await connection.execute("INSERT INTO kept VALUES (1)")
        assert await connection.fetchval("SELECT count(*) FROM kept") == 1
        return "connected, wrote and read"
    finally:
        await connection.close()


async def test_each_service_s_role_connects_to_its_own_database_and_to_no_other(prefix: str, tmp_path: Path) -> None:
    script = tmp_path / "init-databases.sql"
    script.write_text(_scratch(INIT_SQL.read_text(), prefix))
    passwords = _passwords()
    ran = _psql(script, passwords)
    assert ran.returncode == 0, ran.stderr

    admin = await asyncpg.connect(host=HOST, user=ADMIN, database="postgres")
    try:
        owners = dict(
            await admin.fetch(
                "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE d.datname LIKE $1",
                f"{prefix}%",
            )
        )
        with_password = await admin.fetch(
            "SELECT rolname FROM pg_authid WHERE rolname LIKE $1 AND rolpassword IS NOT NULL AND rolcanlogin "
            "AND NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole",
            f"{prefix}%",
        )
    finally:
        await admin.close()
    assert owners == {f"{prefix}{s}": f"{prefix}{s}" for s in SERVICES}
    assert sorted(row["rolname"] for row in with_password) == sorted(f"{prefix}{s}" for s in SERVICES)

    wrong = []
    for service in SERVICES:
        role = f"{prefix}{service}"
        for other in SERVICES:
            reached = await _reaches(role, f"{prefix}{other}")
            if other == service and reached != "connected, wrote and read":
                wrong.append(f"{service} cannot use its own database: {reached}")
            if other != service and not reached.startswith("refused: permission denied for database"):
                wrong.append(f"{service} reaches the {other} database: {reached}")
    assert not wrong, "\n".join(wrong)


async def test_a_missing_password_stops_the_initialisation(prefix: str, tmp_path: Path) -> None:
    script = tmp_path / "init-databases.sql"
    script.write_text(_scratch(INIT_SQL.read_text(), prefix))
    passwords = _passwords()
    del passwords["CONSENT_DATABASE_PASSWORD"]
    ran = _psql(script, passwords)
    assert ran.returncode != 0 and "syntax error" in ran.stderr, (ran.returncode, ran.stderr)
    admin = await asyncpg.connect(host=HOST, user=ADMIN, database="postgres")
    try:
        made = await admin.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = $1", f"{prefix}consent")
    finally:
        await admin.close()
    assert made == 0  # no role without a password, and nothing after it
