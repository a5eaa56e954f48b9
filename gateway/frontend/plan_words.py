"""The words staff pages use for the plan service's codes: one place for every page that shows a plan, its
reviews, contacts, chronology, episodes or referrals.

The codes are the plan service's (`services/plan/schemas.py`, published in its OpenAPI document); the words are
the front end's, in the plain English a practitioner reads, which the API has no reason to carry. The gateway
imports no service (`make contracts`), so the words live here, once, and `tests/gateway/test_plan_words.py`
fails when the service adds, renames or drops a code these do not name.
"""

# The change matrix: where the family stands on each goal.
STAGES = {
    "pre_contemplation": "Not yet thinking about change",
    "contemplation": "Thinking about change",
    "action": "Making changes",
    "maintenance": "Keeping changes going",
    "sustained": "Change sustained",
}
# The Supporting Families outcome areas a goal is set in.
OUTCOME_AREAS = {
    "education_and_attendance": "Education and attendance",
    "early_years": "Early years",
    "physical_and_mental_health": "Physical and mental health",
    "substance_use": "Substance use",
    "family_relationships": "Family relationships",
    "safety_from_abuse_and_exploitation": "Safety from abuse and exploitation",
    "crime": "Crime",
    "domestic_abuse": "Domestic abuse",
    "housing": "Housing",
    "financial_stability_and_work": "Financial stability and work",
}
NEED_STATUSES = {"open": "Open", "met": "Met", "not_met": "Not met"}
# Closing reasons a practitioner picks; a step-up to social care is its own action, with its referral.
CLOSE_REASONS = {
    "outcomes_met": "Outcomes met",
    "stepped_down_to_universal_services": "Stepped down to universal services",
    "family_disengaged": "The family disengaged",
    "moved_away": "The family moved away",
    "other": "Another reason",
}
# How a plan ended, as its page and chronology say it: every closing reason, and a draft discarded.
CLOSED_AS = CLOSE_REASONS | {
    "stepped_up_to_social_care": "Stepped up to children's social care",
    "discarded": "Discarded",
}
# The kinds of contact, as the form asks "What kind of contact was it?"...
CONTACT_KINDS = {
    "visit": "A visit",
    "call": "A phone call",
    "meeting": "A meeting",
    "message": "A message",
    "note": "A note",
}
# ... and as the chronology names the entry: "Phone call".
CONTACTS_AS = {kind: words.removeprefix("A ").capitalize() for kind, words in CONTACT_KINDS.items()}
CHRONOLOGY_KINDS = {
    "assessment": "Assessment submitted",
    "plan_opened": "Plan opened",
    "plan_activated": "Plan activated",
    "review": "Review held",
    "plan_closed": "Plan closed",
    "plan_stepped_up": "Stepped up to children's social care",
    "plan_discarded": "Draft plan discarded",
    "plan_reopened": "Plan reopened",
    "plan_stepped_down": "Stepped down",
    "social_care_referral": "Referral to children's social care",
    "social_care_outcome": "Children's social care decided",
}
REFERRAL_SOURCES = {
    "step_up": "Stepped up from early help",
    "front_door": "From the front door",
    "after_closure": "After early help closed",
}
REFERRAL_OUTCOMES = {
    "child_in_need": "Child in need",
    "child_protection": "Child protection",
    "looked_after": "Looked after",
    "no_further_action": "No further action",
    "returned_to_early_help": "Returned to early help",
}
