"""What the stories look like to the API: the bodies of the requests that tell them, in general words.

Also the sample answers a benchmark submits (the assessment form's own samples) and a
family of one made-up child, for benchmarks that need a family and an assessment but no story.
"""

import json
from pathlib import Path
from typing import Any

from tools.synthetic.people import Member
from tools.synthetic.stories import STAGES, Contact, Episode, Review, Story

SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "assessment" / "samples"
FAMILY_VOICES = (
    "We are not sure this will make a difference.",
    "We can see what needs to change.",
    "Things are starting to get better at home.",
    "The new routines are working for us.",
    "We feel confident managing on our own now.",
)
REQUESTERS = {"school": "Joanne Whitfield", "health": "Priya Shah"}  # who writes a request for support
TEAM_ROLES = {"school": "Designated safeguarding lead", "health": "Health visitor", "voluntary": "Family worker"}
NEXT_STEPS_IN_WORDS = {
    "early_help_plan": "The early help team will lead a plan.",
    "team_around_the_family": "The early help team will lead a plan with a team around the family.",
    "universal_services": "The family's needs can be met by universal services, with the family's agreement.",
    "refer_to_social_care": "The needs are beyond early help: the family is referred to children's social care.",
}
NARRATIVE: dict[str, Any] = {
    "child_development": {
        "health": "Generally well and immunised; some missed appointments.",
        "education": "Attendance and progress discussed with school.",
        "emotional_behavioural": "Settled at times; worried about things at home.",
        "identity": "Has interests the family encourages; no concerns.",
        "family_social_relationships": "Close to siblings and parents; has friends at school.",
        "social_presentation": "Clean and suitably dressed.",
        "self_care": "As expected for age.",
    },
    "parenting_capacity": {
        "basic_care": "Basic care is met, though routines slip under pressure.",
        "ensuring_safety": "Parents supervise appropriately.",
        "emotional_warmth": "Warm, affectionate relationships.",
        "stimulation": "Some play and reading at home.",
        "guidance_boundaries": "Boundaries are not always consistent.",
        "stability": "The same carers throughout; current pressures unsettle the family.",
    },
    "family_environment": {
        "family_history": "Discussed with the family; recorded in the case file.",
        "wider_family": "Some help from wider family.",
        "housing": "Discussed with the family.",
        "employment": "Discussed with the family.",
        "income": "Discussed with the family.",
        "social_integration": "Know some neighbours; would like more support locally.",
        "community_resources": "Family hub and children's centre nearby.",
    },
    "voice_of_the_child": "Wants things at home to be calmer.",
    "parents_views": "Parents want help and agree to a plan.",
    "strengths": "A loving family, open to help.",
    "tried_before": "Support from school and the health visitor.",
}


def family_body(story: Story) -> dict[str, Any]:
    return {
        "members": [
            {
                "role": member.role,
                "given_name": member.given_name,
                "family_name": member.family_name,
                "date_of_birth": member.date_of_birth.isoformat(),
                **({"relationship": member.relationship} if member.role == "adult" else {}),
                "identifiers": [{"system": "nhs", "value": member.nhs_number}],
                "sex": member.gender,
                "ethnicity": member.ethnicity,
                "postcode": member.postcode,
            }
            for member in story.members
        ]
    }


def _areas(episode: Episode) -> str:
    return ", ".join(area.replace("_", " ") for area, _ in episode.needs)


def assessment_answers(story: Story, episode: Episode) -> dict[str, Any]:
    """An early help assessment (form version 1) of the episode's needs, in general words."""
    return {
        "about_the_assessment": {
            "reason": f"Concerns raised about {_areas(episode)}.",
            "date_started": episode.started.isoformat(),
            "consent_to_share": True,
            "consent_date": episode.started.isoformat(),
        },
        "family_members": [
            {
                "name": f"{member.given_name} {member.family_name}",
                "date_of_birth": member.date_of_birth.isoformat(),
                "relationship": member.relationship,
                "lives_in_household": True,
                "nhs_number": member.nhs_number,
            }
            for member in story.members
        ],
        **NARRATIVE,
        "needs": [{"description": description, "outcome_area": area} for area, description in episode.needs],
        "summary": f"Needs agreed with the family: {_areas(episode)}. {NEXT_STEPS_IN_WORDS[episode.next_step]}",
        "level_of_need": episode.level_of_need,
        "next_step": episode.next_step,
        "completion": {
            "date_completed": episode.completed.isoformat(),
            "practitioner_name": episode.lead,
            "practitioner_role": "Family support worker, Early Help",
        },
    }


def request_answers(story: Story, organisation: str, organisation_type: str) -> dict[str, Any]:
    """A request for support (form version 1) from the referring school or health team."""
    asked = story.front_door
    assert asked is not None, "only a story with a request for support sends one"
    concerns = ", ".join(area.replace("_", " ") for area in asked.concerns)
    return {
        "requester": {
            "name": REQUESTERS[organisation_type],
            "role": TEAM_ROLES[organisation_type],
            "organisation": organisation,
            "organisation_type": organisation_type,
            "email": f"early.help@{organisation_type}.example",
        },
        "children": [
            {
                "name": f"{m.given_name} {m.family_name}",
                "date_of_birth": m.date_of_birth.isoformat(),
                "gender": m.gender,
            }
            for m in story.members
            if m.role == "child"
        ],
        "parents_carers": [
            {
                "name": f"{m.given_name} {m.family_name}",
                "relationship": m.relationship.replace("_", " ").capitalize(),
                "parental_responsibility": m.relationship in {"mother", "father"},
            }
            for m in story.members
            if m.role == "adult"
        ],
        "reason": {
            "why_now": f"Concerns about {concerns}.",
            "concerns": list(asked.concerns),
            "tried_already": "Support within our own service.",
        },
        "consent": {"family_agrees": True, "date_agreed": asked.asked_on.isoformat()},
        "safeguarding": {"immediate_concern": False},
    }


def review_body(review: Review, plan: dict[str, Any], lead: dict[str, str], carer: Member) -> dict[str, Any]:
    average_stage = sum(STAGES.index(stage) for stage, _ in review.ratings) // len(review.ratings)
    return {
        "held_on": review.held_on.isoformat(),
        "attendees": [
            {"name": lead["name"], "role": "Lead professional", "organisation_id": lead["organisation_id"]},
            {"name": f"{carer.given_name} {carer.family_name}", "role": "Parent or carer"},
        ],
        "family_voice": FAMILY_VOICES[average_stage],
        "ratings": [
            {"goal_id": goal["id"], "stage": stage, "score": score}
            for goal, (stage, score) in zip(plan["goals"], review.ratings, strict=True)
        ],
    }


CONTACT_SUMMARIES = {  # case notes in general words: nothing a family could be told apart by
    "visit": "Home visit. Talked through the plan's actions with the family; the children were seen and spoken "
    "to. Routines at home discussed; next visit agreed.",
    "call": "Phone call with the family to check on progress since the last visit; no new concerns raised.",
    "message": "Text message to confirm the next appointment; the family replied to agree the time.",
    "meeting": "Team around the family meeting: progress on each goal shared and the actions brought up to date.",
    "note": "Update from a partner agency on the support offered this month, added to the family's record.",
}
WITH_THE_CARER = frozenset({"visit", "call", "message", "meeting"})


def contact_body(contact: Contact, lead: dict[str, str], carer: Member) -> dict[str, Any]:
    """A contact recorded by the lead professional, with the parent or carer where they took part."""
    participants = [{"name": lead["name"], "role": "Lead professional", "organisation_id": lead["organisation_id"]}]
    if contact.kind in WITH_THE_CARER:
        participants.append({"name": f"{carer.given_name} {carer.family_name}", "role": "Parent or carer"})
    return {
        "kind": contact.kind,
        "occurred_at": contact.occurred_at.isoformat(),
        "participants": participants,
        "summary": CONTACT_SUMMARIES[contact.kind],
    }


def sample_answers(key: str = "early-help-assessment", version: int = 1) -> dict[str, Any]:
    """The form's sample answers, as the assessment service's tests submit them."""
    answers: dict[str, Any] = json.loads((SAMPLES / f"{key}-{version}.json").read_text())
    return answers


def submitted_assessment(family_id: str, answers: dict[str, Any], key: str = "early-help-assessment") -> dict[str, Any]:
    """The body of `POST /assessments` that submits `answers` on version 1 of the form at once."""
    return {"family_id": family_id, "form": {"key": key, "version": 1}, "answers": answers, "status": "submitted"}


def one_child(given_name: str = "Test", family_name: str = "Child", nhs_number: str | None = None) -> dict[str, Any]:
    """The body of `POST /families` for a family of one made-up child."""
    child: dict[str, Any] = {"role": "child", "given_name": given_name, "family_name": family_name}
    if nhs_number is not None:
        child["identifiers"] = [{"system": "nhs", "value": nhs_number}]
    return {"members": [child]}
