"""The staff pages' words for the plan service's codes name every code the service has, and no other."""

from typing import get_args

from gateway.frontend import plan_words
from services.plan import schemas
from services.plan.transitions import DISCARDED, STEPPED_UP


def test_every_code_of_the_plan_service_has_its_words_and_no_word_names_a_code_it_lacks() -> None:
    assert set(plan_words.STAGES) == set(get_args(schemas.Stage))
    assert set(plan_words.OUTCOME_AREAS) == set(get_args(schemas.OutcomeArea))
    assert set(plan_words.NEED_STATUSES) == set(get_args(schemas.NeedStatus))
    assert set(plan_words.CONTACT_KINDS) == set(plan_words.CONTACTS_AS) == set(get_args(schemas.ContactKind))
    assert set(plan_words.CHRONOLOGY_KINDS) | {"contact"} == set(get_args(schemas.ChronologyKind))
    assert set(plan_words.REFERRAL_SOURCES) == set(get_args(schemas.ReferralSource))
    assert set(plan_words.REFERRAL_OUTCOMES) == set(get_args(schemas.ReferralOutcome))
    # A step-up is an action of its own, with its referral: the closing form does not offer it.
    assert set(plan_words.CLOSE_REASONS) == set(get_args(schemas.CloseReason)) - {STEPPED_UP}
    assert set(plan_words.CLOSED_AS) == set(get_args(schemas.CloseReason)) | {DISCARDED}


def test_the_chronology_names_a_contact_by_its_kind_alone() -> None:
    assert plan_words.CONTACTS_AS == {
        "visit": "Visit", "call": "Phone call", "meeting": "Meeting", "message": "Message", "note": "Note",
    }  # fmt: skip
