"""The access log: every read through the assessment service lands in the consent service's hash-chained log, with
who, which organisation, what and on which basis; only a holder of `audit:read` (the data protection officer, the
admin) reads it; changing or removing a stored entry is caught by `/audit/verify`, and no route changes or removes
one."""

from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import col

from services.consent.models import AuditEntry
from tests.support.audit import audit_settled, database_of, shared_and_read
from tests.support.consent import ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import assert_problem
from tests.support.waiting import eventually


async def _execute(stack: ConsentStack, statement: str, **values: Any) -> None:
    async with database_of(stack.consent_app).sessionmaker() as session, session.begin():
        await session.execute(text(statement), values)


async def _position_of(stack: ConsentStack, **where: str) -> int:
    query = select(AuditEntry).filter_by(**where).order_by(col(AuditEntry.position))
    async with database_of(stack.consent_app).sessionmaker() as session:
        positions = [entry.position for entry in await session.scalars(query)]
    assert len(positions) == 1, positions
    return positions[0]


def _auditor(stack: ConsentStack) -> Organisation:
    """The council's data protection officer, answering a subject access request."""
    return stack.organisation("org-council", "council", scopes="audit:read")


async def _verify(stack: ConsentStack, reader: Organisation) -> dict[str, Any]:
    response = await stack.consent.get("/audit/verify", headers=reader.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_reads_through_the_assessment_service_are_logged_with_who_which_organisation_what_and_the_basis(
    stack: ConsentStack,
) -> None:
    family_id, assessment_id, grant_id = await shared_and_read(stack)
    _, other_assessment = await stack.family_with_assessment(stack.organisation("org-health", "health"), "9434765870")
    council = _auditor(stack)
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
    ("council", "audit:read", True),
    ("health", "audit:read consent:read", True),
    ("council", "consent:read consent:write assessments:read plans:read", False),  # a council practitioner
    ("council", "admin consent:read", False),  # administering the gateway is not reading the log
    ("school", "consent:read consent:write assessments:read", False),
    ("health", "consent:read", False),
]


async def _readable_by(stack: ConsentStack, organisation_type: str, scopes: str) -> list[str]:
    """What goes wrong reading the log and verifying it as such a reader; those it may not read are refused."""
    reader = stack.organisation(f"org-{organisation_type}", organisation_type, scopes=scopes)
    wrong = []
    for path, params in (("/audit", {"family_id": "family-1"}), ("/audit/verify", {})):
        response = await stack.consent.get(path, params=params, headers=reader.headers)
        if response.status_code != 200:
            wrong.append(f"{organisation_type} with {scopes!r}: {path} answered {response.status_code} {response.text}")
    return wrong


async def test_only_a_holder_of_audit_read_reads_the_access_log(stack: ConsentStack) -> None:
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


async def test_verify_names_the_first_entry_changed_in_thedatabase_of(stack: ConsentStack) -> None:
    _, assessment_id, _ = await shared_and_read(stack)
    council = _auditor(stack)
    await eventually(lambda: audit_settled(stack))
    async with database_of(stack.consent_app).sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert stored is not None and stored >= 5  # family, assessment, grant, two reads
    assert await _verify(stack, council) == {
        "valid": True,
        "entries": stored,
        "first_broken_position": None,
        "problem": None,
        "checked_from": 1,  # no checkpoint signed yet: from the first entry
        "checkpoints": 0,
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


async def test_verify_catches_an_entry_rewritten_with_a_fresh_hash_at_the_entry_after_it(stack: ConsentStack) -> None:
    _, assessment_id, _ = await shared_and_read(stack)
    council = _auditor(stack)
    await eventually(lambda: audit_settled(stack))
    k = await _position_of(stack, actor="client-org-school", resource_id=assessment_id, action="read")
    async with database_of(stack.consent_app).sessionmaker() as session:
        last = await session.scalar(select(func.max(col(AuditEntry.position))))
    assert last is not None and k < last, "the school's read is not followed by another entry"

    # Someone who knows how the hash is made rewrites the entry and its hash: the next entry no longer follows it.
    from services.consent.chain import entry_hash

    async with database_of(stack.consent_app).sessionmaker() as session, session.begin():
        entry = await session.get(AuditEntry, k)
        assert entry is not None
        entry.basis, entry.basis_reference = "authorship", "org-school"
        entry.hash = entry_hash(entry)
    changed = await _verify(stack, council)
    assert (changed["valid"], changed["first_broken_position"]) == (False, k + 1), changed
    assert changed["problem"] == "it does not follow the entry before it"


async def test_verify_reports_a_deleted_entry_as_missing_at_the_next_position(stack: ConsentStack) -> None:
    _, assessment_id, _ = await shared_and_read(stack)
    council = _auditor(stack)
    await eventually(lambda: audit_settled(stack))
    k = await _position_of(stack, actor="client-org-school", resource_id=assessment_id, action="read")
    before = await _verify(stack, council)
    assert before["valid"] is True and before["entries"] > k

    await _execute(stack, "DELETE FROM audit_entry WHERE position = :k", k=k)
    after = await _verify(stack, council)
    assert after["valid"] is False, after
    assert after["first_broken_position"] == k + 1
    assert after["problem"] == f"entry {k} is missing"


async def test_no_route_changes_or_deletes_an_entry(stack: ConsentStack) -> None:
    admin = stack.organisation("org-council", "council", scopes="admin audit:read consent:read consent:write")
    for method in ("PUT", "DELETE", "PATCH", "POST"):
        for path in ("/audit", "/audit/verify"):
            response = await stack.consent.request(method, path, json={"actor": "nobody"}, headers=admin.headers)
            assert_problem(response, 405, "method-not-allowed")
            assert response.headers["allow"] == "GET"
        response = await stack.consent.request(method, "/audit/1", json={"actor": "nobody"}, headers=admin.headers)
        assert response.status_code in (404, 405), response.text
    assert (await _verify(stack, admin))["valid"] is True
    async with database_of(stack.consent_app).sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry).filter_by(actor="nobody")) == 0
