"""Who may read a family's assessment and plan: every relationship to the family, under every state of its grants.

One stack per grant state; each test walks the relationships and categories, asks `POST /access-decisions` with
the organisation's own token, reads the assessment through the assessment service, and collects every cell that
is not as the table below says, so a failure lists them all.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.assessment.conftest import Organisation, sample
from tests.consent.conftest import Stack
from tests.services.test_every_service import PROBLEM

CATEGORIES = ("assessment", "plan")
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}

# Each relationship to the family, as an organisation id and type. The author (a health visitor) records every grant.
ORGANISATIONS: dict[str, tuple[str, str]] = {
    "author": ("org-health", "health"),
    "team member": ("org-council", "council"),
    "recipient by id": ("org-school-a", "school"),
    "recipient by type": ("org-police", "police"),
    "recipient of the plan only": ("org-voluntary", "voluntary"),
    "same type as a recipient": ("org-school-b", "school"),
    "another type": ("org-social", "social_care"),
}

# The family's grants, all in the state under test.
GRANTS: dict[str, dict[str, Any]] = {
    "to school a": {"categories": ["assessment", "plan"], "recipient_organisations": ["org-school-a"]},
    "to the police": {"categories": ["assessment", "plan"], "recipient_types": ["police"]},
    "plan to voluntary": {"categories": ["plan"], "recipient_organisations": ["org-voluntary"]},
}

# (relationship, category) -> (basis kind, what its reference names) or None for deny.
# References: "org:<relationship>" is that organisation's id, "grant:<name>" that grant's id.
Cell = tuple[str, str] | None
WHILE_GRANTS_ARE_IN_FORCE: dict[tuple[str, str], Cell] = {
    ("author", "assessment"): ("authorship", "org:author"),
    ("author", "plan"): ("authorship", "org:author"),
    ("team member", "assessment"): ("team", "org:team member"),
    ("team member", "plan"): ("team", "org:team member"),
    ("recipient by id", "assessment"): ("grant", "grant:to school a"),
    ("recipient by id", "plan"): ("grant", "grant:to school a"),
    ("recipient by type", "assessment"): ("grant", "grant:to the police"),
    ("recipient by type", "plan"): ("grant", "grant:to the police"),
    ("recipient of the plan only", "assessment"): None,
    ("recipient of the plan only", "plan"): ("grant", "grant:plan to voluntary"),
    ("same type as a recipient", "assessment"): None,
    ("same type as a recipient", "plan"): None,
    ("another type", "assessment"): None,
    ("another type", "plan"): None,
}
WHILE_NO_GRANT_IS_IN_FORCE: dict[tuple[str, str], Cell] = {
    ("author", "assessment"): ("authorship", "org:author"),
    ("author", "plan"): ("authorship", "org:author"),
    ("team member", "assessment"): ("team", "org:team member"),
    ("team member", "plan"): ("team", "org:team member"),
    ("recipient by id", "assessment"): None,
    ("recipient by id", "plan"): None,
    ("recipient by type", "assessment"): None,
    ("recipient by type", "plan"): None,
    ("recipient of the plan only", "assessment"): None,
    ("recipient of the plan only", "plan"): None,
    ("same type as a recipient", "assessment"): None,
    ("same type as a recipient", "plan"): None,
    ("another type", "assessment"): None,
    ("another type", "plan"): None,
}
EXPECTED: dict[str, dict[tuple[str, str], Cell]] = {
    "active": WHILE_GRANTS_ARE_IN_FORCE,
    "not_started": WHILE_NO_GRANT_IS_IN_FORCE,
    "ended": WHILE_NO_GRANT_IS_IN_FORCE,
    "withdrawn": WHILE_NO_GRANT_IS_IN_FORCE,
}
# Who reads the assessment through the assessment service. It knows no team yet (the plan service will supply
# team membership), so there a team member is one more other organisation.
READS_THE_ASSESSMENT: dict[str, set[str]] = {
    "active": {"author", "recipient by id", "recipient by type"},
    "not_started": {"author"},
    "ended": {"author"},
    "withdrawn": {"author"},
}


def _terms(state: str) -> dict[str, str]:
    now = datetime.now(UTC)
    if state == "not_started":
        return {"starts_at": (now + timedelta(days=1)).isoformat()}
    if state == "ended":
        return {"starts_at": (now - timedelta(days=2)).isoformat(), "ends_at": (now - timedelta(days=1)).isoformat()}
    return {}


async def _grants_in(stack: Stack, state: str, author: Organisation, family_id: str) -> dict[str, str]:
    """The family's grants, each in `state`; their ids by name."""
    ids: dict[str, str] = {}
    for name, terms in GRANTS.items():
        grant = await stack.grant(author, family_id, **terms, **_terms(state))
        if state == "withdrawn":
            withdrawn = await stack.consent.post(f"/consents/{grant['id']}/withdraw", json={}, headers=author.headers)
            assert withdrawn.status_code == 200, withdrawn.text
            grant = withdrawn.json()
        assert grant["status"] == state, grant
        ids[name] = grant["id"]
    return ids


@pytest.mark.parametrize("state", sorted(EXPECTED))
async def test_each_relationship_is_permitted_only_on_its_basis_while_the_grants_are(stack: Stack, state: str) -> None:
    organisations = {name: stack.organisation(org_id, org_type) for name, (org_id, org_type) in ORGANISATIONS.items()}
    author = organisations["author"]
    family_id, assessment_id = await stack.family_with_assessment(author)
    grant_ids = await _grants_in(stack, state, author, family_id)

    def reference(symbol: str) -> str:
        kind, _, name = symbol.partition(":")
        return organisations[name].id if kind == "org" else grant_ids[name]

    mismatches: list[str] = []
    for relationship, organisation in organisations.items():
        for category in CATEGORIES:
            question: dict[str, Any] = {"family_id": family_id, "category": category}
            if relationship == "author":
                question["authors"] = [author.id]
            if relationship == "team member":
                question["team"] = [organisation.id]
            answer = await stack.consent.post("/access-decisions", json=question, headers=organisation.headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            expected = EXPECTED[state][relationship, category]
            if expected is None:
                wanted: dict[str, Any] = {"decision": "deny", "basis": None}
            else:
                wanted = {"decision": "permit", "basis": {"kind": expected[0], "reference": reference(expected[1])}}
            got = {"decision": body["decision"], "basis": body["basis"]}
            if got != wanted:
                mismatches.append(f"{relationship} asking for the {category}: {got}, expected {wanted}")
            if not body["reason"] or any(grant_id in body["reason"] for grant_id in grant_ids.values()):
                mismatches.append(f"{relationship} asking for the {category}: reason {body['reason']!r}")

        read = await stack.assessment.get(f"/assessments/{assessment_id}", headers=organisation.headers)
        # The decision as the assessment service asks it (authors, no team) agrees with what it answers.
        as_asked = {"family_id": family_id, "category": "assessment", "authors": [author.id]}
        decided = await stack.consent.post("/access-decisions", json=as_asked, headers=organisation.headers)
        if (decided.json()["decision"] == "permit") != (read.status_code == 200):
            mismatches.append(f"{relationship}: decided {decided.json()} but the read answered {read.status_code}")
        if relationship in READS_THE_ASSESSMENT[state]:
            if read.status_code != 200:
                mismatches.append(f"{relationship} reading the assessment: {read.status_code} {read.text}")
                continue
            assessment = read.json()
            if (assessment["id"], assessment["family_id"], assessment["organisation_id"]) != (
                assessment_id,
                family_id,
                author.id,
            ) or assessment["answers"] != sample("early-help-assessment", 1):
                mismatches.append(f"{relationship} reading the assessment got another record: {assessment}")
        else:
            refused = (read.status_code, read.headers.get("content-type"), read.json().get("type"))
            if refused != (403, PROBLEM, "urn:graduated-pathway:problem:access-refused"):
                mismatches.append(f"{relationship} reading the assessment: {read.status_code} {read.text}")
            elif set(read.json()) != PROBLEM_MEMBERS or family_id in read.text or author.id in read.text:
                mismatches.append(f"{relationship} was refused with the record in the problem: {read.text}")

    assert not mismatches, f"{len(mismatches)} cells are wrong with grants {state}:\n" + "\n".join(mismatches)
