"""The access log: every read through the assessment service lands in the consent service's hash-chained log, with
who, which organisation, what and on which basis; only the council or an administrator reads it; changing or
removing a stored entry is caught by `/audit/verify`, and no route changes or removes one."""

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlmodel import col

from services.consent.models import AuditEntry
from services.kit.db import Database
from services.kit.events.outbox import OutboxEvent
from tests.assessment.conftest import Organisation
from tests.consent.conftest import Stack
from tests.kit.conftest import eventually, stream_messages
from tests.services.test_every_service import assert_problem

# A service bug pinned here, to be removed once fixed: the audit chain's advisory lock key in


def _database(app: FastAPI) -> Database:
    database: Database = app.state.database
    return database


async def _audit_settled(stack: Stack) -> bool:
    """Both outboxes are empty and the consent service has logged every `audit.recorded` event in the stream."""
    for app in (stack.consent_app, stack.assessment_app):
        async with _database(app).sessionmaker() as session:
            if await session.scalar(select(func.count()).select_from(OutboxEvent)):
                return False
    published = [m for m in await stream_messages(stack.nats.url) if m.event.get_type() == "audit.recorded"]
    async with _database(stack.consent_app).sessionmaker() as session:
        logged = await session.scalar(select(func.count()).select_from(AuditEntry))
    return logged == len(published)


async def _execute(stack: Stack, statement: str, **values: Any) -> None:
    async with _database(stack.consent_app).sessionmaker() as session, session.begin():
        await session.execute(text(statement), values)


async def _position_of(stack: Stack, **where: str) -> int:
    query = select(AuditEntry).filter_by(**where).order_by(col(AuditEntry.position))
    async with _database(stack.consent_app).sessionmaker() as session:
        positions = [entry.position for entry in await session.scalars(query)]
    assert len(positions) == 1, positions
    return positions[0]


async def _verify(stack: Stack, reader: Organisation) -> dict[str, Any]:
    response = await stack.consent.get("/audit/verify", headers=reader.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _shared_and_read(stack: Stack) -> tuple[str, str, str]:
    """The health visitor's assessment, shared with the school, read by both; the family, assessment and grant."""
    health = stack.organisation("org-health", "health")
    school = stack.organisation("org-school", "school")
    family_id, assessment_id = await stack.family_with_assessment(health)
    grant = await stack.grant(health, family_id, categories=["assessment"], recipient_organisations=[school.id])
    for reader in (school, health):
        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=reader.headers)
        assert read.status_code == 200, read.text
    return family_id, assessment_id, grant["id"]


async def test_reads_through_the_assessment_service_are_logged_with_who_which_organisation_what_and_the_basis(
    stack: Stack,
) -> None:
    family_id, assessment_id, grant_id = await _shared_and_read(stack)
    _, other_assessment = await stack.family_with_assessment(stack.organisation("org-health", "health"), "9434765870")
    council = stack.organisation("org-council", "council", scopes="consent:read")
    read_by_the_school = {
        "actor": "client-org-school",
        "organisation_id": "org-school",
        "organisation_type": "school",
        "action": "read",
        "resource_type": "assessment",
        "resource_id": assessment_id,
        "basis": "grant",
        "basis_reference": grant_id,
    }
    read_by_the_author = {
        "actor": "client-org-health",
        "organisation_id": "org-health",
        "organisation_type": "health",
        "action": "read",
        "resource_type": "assessment",
        "resource_id": assessment_id,
        "basis": "authorship",
        "basis_reference": "org-health",
    }
    entries: list[dict[str, Any]] = []

    async def both_reads_logged() -> bool:
        nonlocal entries
        response = await stack.consent.get("/audit", params={"family_id": family_id}, headers=council.headers)
        assert response.status_code == 200, response.text
        entries = response.json()
        reads = [{key: entry[key] for key in read_by_the_school} for entry in entries if entry["action"] == "read"]
        return read_by_the_school in reads and read_by_the_author in reads

    await eventually(both_reads_logged)
    reads = [entry for entry in entries if entry["resource_type"] == "assessment" and entry["action"] == "read"]
    assert len(reads) == 2, reads
    assert [entry["position"] for entry in entries] == sorted(entry["position"] for entry in entries)
    assert all(entry["occurred_at"] for entry in entries)
    # The family's log holds its own records only, and the grant's recording by the health visitor.
    assert other_assessment not in str(entries)
    assert {"action": "create", "resource_type": "consent", "resource_id": grant_id} in [
        {key: entry[key] for key in ("action", "resource_type", "resource_id")} for entry in entries
    ]


READERS = [  # organisation type, scopes, whether it may read the access log
    ("council", "consent:read", True),
    ("health", "admin consent:read", True),
    ("school", "consent:read consent:write assessments:read", False),
    ("health", "consent:read", False),
    ("council", "assessments:read", False),
]


async def _readable_by(stack: Stack, organisation_type: str, scopes: str) -> list[str]:
    """What goes wrong reading the log and verifying it as such a reader; those it may not read are refused."""
    reader = stack.organisation(f"org-{organisation_type}", organisation_type, scopes=scopes)
    wrong = []
    for path, params in (("/audit", {"family_id": "family-1"}), ("/audit/verify", {})):
        response = await stack.consent.get(path, params=params, headers=reader.headers)
        if response.status_code != 200:
            wrong.append(f"{organisation_type} with {scopes!r}: {path} answered {response.status_code} {response.text}")
    return wrong


async def test_only_the_council_or_an_administrator_reads_the_access_log(stack: Stack) -> None:
    wrong = []
    for organisation_type, scopes, may_read in READERS:
        if may_read:
            wrong += await _readable_by(stack, organisation_type, scopes)
            continue
        reader = stack.organisation(f"org-{organisation_type}", organisation_type, scopes=scopes)
        for path, params in (("/audit", {"family_id": "family-1"}), ("/audit/verify", {})):
            refused = await stack.consent.get(path, params=params, headers=reader.headers)
            assert_problem(refused, 403, "insufficient-scope")
            assert "family-1" not in refused.text
    assert not wrong, "\n".join(wrong)


async def test_an_administrator_reads_the_access_log_with_the_admin_scope_alone(stack: Stack) -> None:
    wrong = await _readable_by(stack, "health", "admin")
    assert not wrong, "\n".join(wrong)


async def test_verify_names_the_first_entry_changed_in_the_database(stack: Stack) -> None:
    _, assessment_id, _ = await _shared_and_read(stack)
    council = stack.organisation("org-council", "council", scopes="consent:read")
    await eventually(lambda: _audit_settled(stack))
    async with _database(stack.consent_app).sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert stored is not None and stored >= 5  # family, assessment, grant, two reads
    assert await _verify(stack, council) == {
        "valid": True,
        "entries": stored,
        "first_broken_position": None,
        "problem": None,
    }

    k = await _position_of(stack, actor="client-org-school", resource_id=assessment_id, action="read")
    await _execute(stack, "UPDATE audit_entry SET actor = 'client-org-council' WHERE position = :k", k=k)
    changed = await _verify(stack, council)
    assert (changed["valid"], changed["first_broken_position"]) == (False, k), changed
    assert changed["problem"] == "its content no longer matches its hash"

    await _execute(stack, "UPDATE audit_entry SET actor = 'client-org-school' WHERE position = :k", k=k)
    assert (await _verify(stack, council))["valid"] is True

    await _execute(stack, "UPDATE audit_entry SET basis = 'authorship' WHERE position = :k", k=k)
    changed = await _verify(stack, council)
    assert (changed["valid"], changed["first_broken_position"]) == (False, k), changed


async def test_verify_catches_an_entry_rewritten_with_a_fresh_hash_at_the_entry_after_it(stack: Stack) -> None:
    _, assessment_id, _ = await _shared_and_read(stack)
    council = stack.organisation("org-council", "council", scopes="consent:read")
    await eventually(lambda: _audit_settled(stack))
    k = await _position_of(stack, actor="client-org-school", resource_id=assessment_id, action="read")
    async with _database(stack.consent_app).sessionmaker() as session:
        last = await session.scalar(select(func.max(col(AuditEntry.position))))
    assert last is not None and k < last, "the school's read is not followed by another entry"

    # Someone who knows how the hash is made rewrites the entry and its hash: the next entry no longer follows it.
    from services.consent.chain import entry_hash

    async with _database(stack.consent_app).sessionmaker() as session, session.begin():
        entry = await session.get(AuditEntry, k)
        assert entry is not None
        entry.basis, entry.basis_reference = "authorship", "org-school"
        entry.hash = entry_hash(entry)
    changed = await _verify(stack, council)
    assert (changed["valid"], changed["first_broken_position"]) == (False, k + 1), changed
    assert changed["problem"] == "it does not follow the entry before it"


async def test_verify_reports_a_deleted_entry_as_missing_at_the_next_position(stack: Stack) -> None:
    _, assessment_id, _ = await _shared_and_read(stack)
    council = stack.organisation("org-council", "council", scopes="consent:read")
    await eventually(lambda: _audit_settled(stack))
    k = await _position_of(stack, actor="client-org-school", resource_id=assessment_id, action="read")
    before = await _verify(stack, council)
    assert before["valid"] is True and before["entries"] > k

    await _execute(stack, "DELETE FROM audit_entry WHERE position = :k", k=k)
    after = await _verify(stack, council)
    assert after["valid"] is False, after
    assert after["first_broken_position"] == k + 1
    assert after["problem"] == f"entry {k} is missing"


async def test_no_route_changes_or_deletes_an_entry(stack: Stack) -> None:
    admin = stack.organisation("org-council", "council", scopes="admin consent:read consent:write")
    for method in ("PUT", "DELETE", "PATCH", "POST"):
        for path in ("/audit", "/audit/verify"):
            response = await stack.consent.request(method, path, json={"actor": "nobody"}, headers=admin.headers)
            assert_problem(response, 405, "method-not-allowed")
            assert response.headers["allow"] == "GET"
        response = await stack.consent.request(method, "/audit/1", json={"actor": "nobody"}, headers=admin.headers)
        assert response.status_code in (404, 405), response.text
    assert (await _verify(stack, admin))["valid"] is True
    async with _database(stack.consent_app).sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry).filter_by(actor="nobody")) == 0
