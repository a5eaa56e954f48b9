"""The shares the stories follow, and where each comes from: the seed councils' own reports, or our choice
where they give no figure.

Front door. Wolverhampton's early help desk in the MASH passed 6,038 children on to early intervention in
nine months of 2017, and they became 3,236 referrals: we read that as a little over half of what arrives
going on to an assessment. No seed splits the rest; we chose signposting as the largest part, then no
further action, Sunderland's multi-agency panel (for requests with too little to decide on) and a small
share referred to social care.
Reading promises an offer within 10 days of a request; the services date a request and its decision by their
own clock, so the loader decides each request on the day it sends it (0 working days, inside the target).

Assessment's next step. No seed counts assessments that end without a plan; we chose about one in eight:
some to universal services, fewer straight to social care.

Endings. Wolverhampton (April-December 2017): 65% of cases close with outcomes met and 10% escalate to
social care. Sunderland: 93% of children stay in early help or step down to universal services.

Social care's outcomes. Reading (December 2017) had 1,286 children in need, 305 on child protection plans and
277 looked after: the three statutory outcomes keep those ratios. No seed says how many referrals social care
closes with no further action or hands back to early help; we chose a quarter between them (Sunderland's
step-downs, 43% of its new plans, show hand-backs are common).

After closure. Gloucestershire (2022): each month 4.9-7.5% of episodes closed in the last 3 months were referred
to social care within 6 weeks; of 195 children closed in August 2022, 17 (8.7%) were back within 6 months,
15 of them reopened to early help and 1 referred to social care by the front door.

Supporting Families. Peterborough pays £800 a family claimed and Gloucestershire set itself 487, 789 and 975
claims a year; no seed says what share of early help families join. We chose: most activated plans with needs
in two or more headline areas join (the programme's eligibility), on the day the plan is activated; a family
whose plan closed with outcomes met and that did not come back is claimed for by significant and sustained
progress once the outcomes plan's months have passed since the closure; and some others with a need of work
and money are claimed for by continuous employment, once an adult has held work for the plan's months.

Contacts. No seed counts visits, calls or meetings with a family: we chose about one contact a month of an
active plan (none in some months, up to three in others), home visits the most common, then calls, texts or
e-mails, meetings (a team around the family, at school) and notes of what was learnt from others.
"""

import random
from collections.abc import Mapping
from typing import TypeVar

WINDOW_DAYS = 548  # 18 months
STEPPED_UP = "stepped_up_to_social_care"
OUTCOMES_MET = "outcomes_met"
# How the plans that have ended, ended (weights, of 100): Wolverhampton's 65% and 10%, the rest chosen.
CLOSE_REASONS = {
    OUTCOMES_MET: 66, STEPPED_UP: 10, "stepped_down_to_universal_services": 9,
    "family_disengaged": 8, "moved_away": 5, "other": 2,
}  # fmt: skip
EARLY_HELP_ASSESSMENT = "early_help_assessment"
REFER_TO_SOCIAL_CARE = "refer_to_social_care"
# The front door's decisions on requests for support (weights, of 100): about Wolverhampton's 54% to an
# assessment (3,236 referrals from 6,038 children); the split of the rest is chosen.
FRONT_DOOR_OUTCOMES = {
    EARLY_HELP_ASSESSMENT: 54, "signpost": 20, "no_further_action": 14, "multi_agency_panel": 7,
    REFER_TO_SOCIAL_CARE: 5,
}  # fmt: skip
# An early help assessment's next step when it opens no plan (shares of assessments): chosen.
NO_PLAN_NEXT_STEPS = {"universal_services": 0.07, REFER_TO_SOCIAL_CARE: 0.05}
DISCARDED_DRAFT_SHARE = 0.03  # of plans: a first draft nobody went on with, assessed again (chosen)
# What social care decided on a referral (weights, of 100): child in need, child protection and looked after
# in Reading's ratios (1,286 : 305 : 277) over three quarters; the last quarter chosen.
REFERRAL_OUTCOMES = {
    "child_in_need": 52, "child_protection": 12, "looked_after": 11,
    "no_further_action": 10, "returned_to_early_help": 15,
}  # fmt: skip
STEP_DOWN_AFTER = frozenset({"child_in_need", "child_protection", "returned_to_early_help"})
STEP_DOWN_SHARE = 0.4  # of step-ups at least 3 months old with one of those outcomes: social care hands back
RE_REFERRAL_SHARE = 0.07  # of plans closed other than by a step-up: a new assessment within 6 months (Gloucestershire)
# Of plans closed other than by a step-up 6 to 12 months before the load, and not back already: reopened to early
# help, Gloucestershire's largest group of returns. The service dates a reopening on the day it is told, so these
# reopen on the day of the load, within 12 months of closure and never within 6 (chosen share).
REOPENED_SHARE = 0.05
REOPENED_CLOSED_DAYS = (190, 360)  # days before the load that the plans reopened closed on
# Of plans closed other than by a step-up, and not back otherwise: referred straight to social care within 6 weeks
# (Gloucestershire's monthly 4.9-7.5%), and between 6 weeks and 6 months (1 of its 195).
REFERRED_AFTER_CLOSURE = {(1, 42): 0.06, (43, 182): 0.005}
# Contacts recorded in each month of a plan's active period (weights, of 100), and their kinds: both chosen.
CONTACTS_PER_MONTH = {0: 25, 1: 45, 2: 25, 3: 5}
CONTACT_KINDS = {"visit": 40, "call": 25, "message": 15, "meeting": 10, "note": 10}
# Supporting Families (chosen): of activated plans with needs in two or more areas, the share that joins; of
# those joined with a need of work and money and not claimed for by progress, the share with an adult into work.
SUPPORTING_FAMILIES_SHARE = 0.6
CONTINUOUS_EMPLOYMENT_SHARE = 0.3
WORK_AND_MONEY = "financial_stability_and_work"
REFERRERS = {"school": 40, "health": 30, "council": 30}
LEVELS_OF_NEED = {"1": 4, "2": 52, "3": 38, "4": 6}

T = TypeVar("T")


def pick(rng: random.Random, weights: Mapping[T, int]) -> T:
    """One of `weights`' keys, drawn in proportion to its weight."""
    return rng.choices(list(weights), list(weights.values()))[0]
