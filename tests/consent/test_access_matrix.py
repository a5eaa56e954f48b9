"""Who may read a family's assessment and plan: every relationship to the family, under every state of its grants.

One stack per grant state; each test walks the relationships and categories, asks `POST /access-decisions` with
the organisation's own token, reads the assessment through the assessment service, and collects every cell that
is not as the table below says, so a failure lists them all. The team member's place and the author's plan are
told to the consent service as the plan service tells them; the question names no author and no team.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.consent import ConsentStack
from tests.support.organisations import Organisation
from tests.support.problems import PROBLEM
from tests.support.samples import sample

CATEGORIES = ("assessment", "plan")
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}

# Each relationship to the family, as an organisation id and type. The author (a health visitor, who wrote the
# assessment and the plan) records every grant.
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
# Authorship of a record is decided by the service that keeps it (the reads below), never by the consent
# service from a question: asked directly, an author with no other basis is refused.
WHILE_GRANTS_ARE_IN_FORCE: dict[tuple[str, str], Cell] = {
    ("author", "assessment"): None,
    ("author", "plan"): None,
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
    ("author", "assessment"): None,
    ("author", "plan"): None,
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
# Who reads the assessment through the assessment service: its author by authorship, the rest as decided.
READS_THE_ASSESSMENT: dict[str, set[str]] = {
    "active": {"author", "team member", "recipient by id", "recipient by type"},
    "not_started": {"author", "team member"},
    "ended": {"author", "team member"},
    "withdrawn": {"author", "team member"},
}


def _terms(state: str) -> dict[str, str]:
    now = datetime.now(UTC)
    if state == "not_started":
        return {"starts_at": (now + timedelta(days=1)).isoformat()}
    if state == "ended":
        return {"starts_at": (now - timedelta(days=2)).isoformat(), "ends_at": (now - timedelta(days=1)).isoformat()}
    return {}


async def _grants_in(stack: ConsentStack, state: str, author: Organisation, family_id: str) -> dict[str, str]:
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
async def test_each_relationship_is_permitted_only_on_its_basis_while_the_grants_are(
    stack: ConsentStack, state: str
) -> None:
    organisations = {name: stack.organisation(org_id, org_type) for name, (org_id, org_type) in ORGANISATIONS.items()}
    author = organisations["author"]
    family_id, assessment_id = await stack.family_with_assessment(author)
    await stack.tell(family_id, "authorship", author, ["plan"])
    await stack.tell(family_id, "team", organisations["team member"], ["assessment", "plan"])
    grant_ids = await _grants_in(stack, state, author, family_id)

    def reference(symbol: str) -> str:
        kind, _, name = symbol.partition(":")
        return organisations[name].id if kind == "org" else grant_ids[name]

    mismatches: list[str] = []
    for relationship, organisation in organisations.items():
        for category in CATEGORIES:
            question: dict[str, Any] = {"family_id": family_id, "category": category}
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
        # Beside authorship, which it decides itself, the assessment service answers as the consent service decides.
        as_asked = {"family_id": family_id, "category": "assessment"}
        decided = await stack.consent.post("/access-decisions", json=as_asked, headers=organisation.headers)
        if relationship != "author" and (decided.json()["decision"] == "permit") != (read.status_code == 200):
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
