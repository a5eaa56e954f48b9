"""Each report of the plan service over 100,000 plans, next to a bare FastAPI endpoint answering as many bytes.

The aim, on PostgreSQL, is every report under 500 ms at p99; the reports timed
are every `/reports/...` route of the plan service, read from its router, so a
new report is timed without a change here. The plan service
(`services.plan.main:create_app`) runs one uvicorn worker on a free 127.0.0.1
port with a scratch database of its own, on SQLite and then on PostgreSQL, and
a nats-server shared with the real gateway, which has a database of its own and
only issues tokens. Once the service has migrated its database, this script
writes a council's 18 months of practice straight into its tables, untimed and
with the fast path of each database (`copy_records_to_table` on PostgreSQL, an
`executemany` on SQLite, then the planner's statistics, as a live database has them):
100,000 plans (`plan`), who may see each by right of the plan (`plan_organisation`:
its author, its lead's organisation and its team), and 150,000 assessments and
requests for support (`assessment_record`) from 20 organisations of the six
types. Closures fall evenly over the 18 months, as in a service that has run
for years; about two thirds of the plans closed with outcomes met, a tenth
stepped up to social care, 7% are a family's second plan within 12 months of a
closure (a re-referral), and the rest are active or still drafts; each plan's needs,
goals, actions, team and reviews are filled as the service would have left
them, and the columns reports read (`outcome_areas`, `all_needs_met`,
`working_days_to_active`, the practice dates, who may see each plan) are
derived by the plan service's own `lifecycle`, so they agree with them.

The gateway's admin API makes two of the 20 organisations: a council whose
client holds `reports:read reports:all`, and a school whose client holds
`reports:read` alone, so that its reports count only the plans it authored,
leads or is on the team of. Each report is then timed one request at a time,
`--requests` requests after `--warmup` untimed ones, over the 12 months to
today (the re-referrals report over the last 3 months, as councils publish
it); then one report, `--narrow`, again with the school's token. The baseline,
`create_bare_report_app` in `apps.py`, runs in its own uvicorn and answers
each report's request with a JSON body of the same size, serialised on every
request, so the difference is what the report costs beyond serving its answer.
Requests come from this process on the same cores.
"""

import argparse
import json
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from sqlalchemy import Table, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    BACKEND_TITLES,
    Gateway,
    Load,
    add_databases_argument,
    add_loop_argument,
    chosen_backends,
    drive,
    print_table,
    run,
    running_gateway,
    running_nats,
    scratch_database,
    scratch_folder,
    serving,
    serving_service,
    wait_healthy,
)
from services.kit.natsserver import free_port
from services.plan import routes as plan_routes
from services.plan.document import (
    Action,
    Attendee,
    Goal,
    Need,
    NeedStatus,
    PlanDocumentColumn,
    Rating,
    Review,
    TeamMember,
    dumped,
)
from services.plan.models import AssessmentRecord, Plan, PlanEpisode, PlanOrganisation, episode_rows
from services.plan.service import lifecycle
from services.plan.service.lifecycle import REVIEW_INTERVAL, days_since_closure, plan_organisations, requested_on
from services.plan.transitions import STEPPED_UP

TARGET_MS = 500.0
# Every report the plan service answers, by its path under /reports/, and whether it takes a period (`from`, `to`):
# those that do not are as of a day (today).
REPORTS: dict[str, bool] = {
    route.path.removeprefix("/reports/"): "from" in {param.alias for param in get_flat_params(route.dependant)}
    for route in plan_routes.reports.routes
    if isinstance(route, APIRoute)
}
# The period each report covers: 12 months, but re-referrals 3, as councils publish it.
PERIOD_MONTHS = {"re-referrals": 3}
# How many plans, episodes or assessments each report's answer counts, by the field that says so.
COUNTED_BY = {
    "assessments-started": "total",
    "time-to-plan": "plans_activated",
    "closures": "closed",
    "re-referrals": "closed",
    "open-work": "plans",
    "plan-duration": "closed",
    "reviews-overdue": "active",
    "distance-travelled": "plans",
    "step-down-outcomes": "stepped_down",
}
HISTORY_DAYS = 548  # 18 months of practice
INSERT_CHUNK = 5_000

# Twenty organisations of the six types, as in a county: the gateway makes the first council and school.
ORGANISATIONS = {"school": 7, "health": 4, "council": 3, "voluntary": 3, "police": 2, "social_care": 1}
ANALYST_ORGANISATION = {"name": "Bench county council", "type": "council"}
ANALYST_SCOPES = ["reports:read", "reports:all"]
SCHOOL_ORGANISATION = {"name": "Bench primary school", "type": "school"}
SCHOOL_SCOPES = ["reports:read"]
# Who starts early help assessments, who asks for support, and who leads plans.
ASSESSORS = {"school": 35, "health": 20, "council": 30, "voluntary": 12, "social_care": 3}
REQUESTERS = {"school": 40, "health": 25, "police": 25, "voluntary": 10}
LEADS = {"council": 55, "school": 25, "health": 12, "voluntary": 8}
LEAD_PROFESSIONALS = 600  # about 20 families each, as practitioners carry
# Primary plans by where they ended up; re-referrals (a family's second plan) come on top.
OUTCOMES = {
    "outcomes_met": 69,
    "stepped_up_to_social_care": 10,
    "family_disengaged": 3,
    "stepped_down_to_universal_services": 2,
    "moved_away": 1,
    "active": 12,
    "draft": 3,
}
RE_REFERRAL_SHARE = 0.07
REQUEST_FIRST_SHARE = 0.35  # plans that began with a request for support
ROLES = {
    "school": ("Designated safeguarding lead", "SENCO", "Attendance officer"),
    "health": ("Health visitor", "School nurse", "GP"),
    "council": ("Family support worker", "Housing options officer", "Early help coordinator"),
    "voluntary": ("Parenting group facilitator", "Domestic abuse advocate", "Youth worker"),
    "police": ("Neighbourhood officer", "Early intervention officer"),
    "social_care": ("Social worker",),
}
GIVEN_NAMES = (
    "Priya", "Sam", "Joanne", "Daniel", "Aisha", "Tom", "Grace", "Imran", "Chloe", "Mark", "Fatima", "Owen", "Ruth",
    "Callum", "Nadia", "Lewis", "Hannah", "Kwame", "Zoe", "Ian", "Megan", "Tariq", "Sophie", "Gareth", "Leah", "Yusuf",
    "Beth", "Connor", "Amira", "Neil",
)  # fmt: skip
FAMILY_NAMES = (
    "Shah", "Okafor", "Price", "Hughes", "Khan", "Evans", "Murphy", "Patel", "Walsh", "Begum", "Reid", "Clarke",
    "Nowak", "Ali", "Turner", "Fox", "Jones", "Mensah", "Doyle", "Hussain", "Lloyd", "Campbell", "Kowalski", "Ahmed",
    "Bennett", "Osei", "Farrell", "Iqbal", "Morgan", "Singh",
)  # fmt: skip
OUTCOME_AREAS = {
    "education_and_attendance": (
        20,
        "The children's attendance has fallen below 85% and they are often late.",
        "Both children attend every day and on time.",
        "Attendance above 95% for a whole term.",
    ),
    "physical_and_mental_health": (
        18,
        "A parent's low mood makes mornings hard, and there is no treatment yet.",
        "Mum sees her GP and takes up talking therapy.",
        "Mum says she copes with mornings most days.",
    ),
    "family_relationships": (
        14,
        "Arguments at home are frequent and the eldest has started to stay out late.",
        "The family agree house rules and use them.",
        "Fewer arguments, as the family and the school report.",
    ),
    "housing": (
        10,
        "The family have a notice to leave their flat and rent arrears.",
        "The family move to a secure tenancy they can afford.",
        "A tenancy signed and arrears on a repayment plan.",
    ),
    "financial_stability_and_work": (
        10,
        "Benefits stopped after a change of address and debts are growing.",
        "Income maximised and debts managed.",
        "Benefits restored and a debt plan agreed.",
    ),
    "domestic_abuse": (
        8,
        "Police attended a domestic incident at the address twice this year.",
        "Mum and the children are safe and know how to get help.",
        "No further incidents; safety plan in place.",
    ),
    "early_years": (
        7,
        "The youngest is behind at the two-year check and not at nursery.",
        "The youngest takes up funded nursery hours.",
        "Attending nursery three sessions a week.",
    ),
    "safety_from_abuse_and_exploitation": (
        5,
        "A teenager is missing overnight and seen with older young people.",
        "The young person is home every night and safe online.",
        "No missing episodes for three months.",
    ),
    "crime": (
        4,
        "A young person was arrested for shoplifting with friends.",
        "The young person takes part in a positive activity each week.",
        "No further offences; attends youth club weekly.",
    ),
    "substance_use": (
        4,
        "A parent's drinking has increased since losing work.",
        "Dad works with the alcohol service and cuts down.",
        "Dad reports drinking within the agreed limits.",
    ),
}
ACTIONS = (
    "Refer to the family hub's parenting group",
    "Book a GP appointment and go with Mum",
    "Apply for free school meals and the uniform grant",
    "Meet the housing options officer about the notice",
    "Set up a morning routine chart with the children",
    "Referral to the domestic abuse service",
    "Check the benefit claim with welfare rights",
    "Agree a part-time timetable with the school",
)
FAMILY_VOICES = (
    "Mum said mornings are calmer and the children like the chart.",
    "The family feel listened to and want to keep going.",
    "Dad said things are better but money is still a worry.",
    "The children said they like the breakfast club.",
    "Mum said she is tired but hopeful about the new flat.",
)
CLOSE_NOTES = (
    "Goals achieved; the family know how to ask for help again.",
    "Handed back to the school's pastoral support.",
    "Family declined further support after the third review.",
    None,
    None,
)
NEED_STATUSES: tuple[NeedStatus, ...] = ("met", "open", "not_met")
STAGES = ("pre_contemplation", "contemplation", "action", "maintenance", "sustained")
STEP_UP_REASONS = (
    "Concerns escalated after a further domestic incident; referred to the front door.",
    "A disclosure at school met the threshold for a child protection enquiry.",
)


@dataclass(frozen=True)
class Organisation:
    id: str
    type: str


@dataclass
class PracticeData:
    """A council's 18 months of plans, who may see them, and the assessments and requests behind them."""

    plans: list[Plan] = field(default_factory=list)
    plan_organisations: list[PlanOrganisation] = field(default_factory=list)
    plan_episodes: list[PlanEpisode] = field(default_factory=list)
    assessments: list[AssessmentRecord] = field(default_factory=list)

    def proportions(self) -> str:
        """How the plans ended up, as shares of all plans."""
        counts = Counter(plan.close_reason or plan.status for plan in self.plans)
        counts["re-referral"] = sum(1 for plan in self.plans if plan.re_referral)
        shares = ", ".join(f"{name} {count / len(self.plans):.1%}" for name, count in counts.most_common())
        families = len({plan.family_id for plan in self.plans})
        return f"{len(self.plans):,} plans of {families:,} families: {shares}"


class Practice:
    """Makes `PracticeData` up to `today`, reproducibly from a seed.

    What happens to a plan is made up here (when it opened, was activated, reviewed and closed, and why); what
    each step writes on its row is the plan service's own `lifecycle`, so the columns reports read agree with
    the document as the service would have left them.
    """

    def __init__(self, seed: int, today: date, organisations: Sequence[Organisation]) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.first_day = today - timedelta(days=HISTORY_DAYS)
        self.by_type: dict[str, list[Organisation]] = {}
        for organisation in organisations:
            self.by_type.setdefault(organisation.type, []).append(organisation)
        # Each lead professional a different name: the caseload report counts by name and organisation.
        names = self.rng.sample(
            [f"{given} {family}" for given in GIVEN_NAMES for family in FAMILY_NAMES], LEAD_PROFESSIONALS
        )
        self.leads = [(name, self._organisation(LEADS)) for name in names]
        self.data = PracticeData()

    def make(self, plans: int, assessments: int) -> PracticeData:
        re_referrals = round(plans * RE_REFERRAL_SHARE)
        outcomes = self.rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()), k=plans - re_referrals)
        first_plans = [self._plan(outcome) for outcome in outcomes]
        closed = [
            plan
            for plan in first_plans
            if plan.closed_on is not None
            and plan.close_reason != STEPPED_UP
            and plan.closed_on < self.today - timedelta(days=7)
        ]
        for earlier in self.rng.sample(closed, re_referrals):
            self._re_referral(earlier)
        self._other_assessments(assessments - len(self.data.assessments))
        return self.data

    # --- organisations, people, ids and dates ---------------------------------------------

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _organisation(self, weights: dict[str, int]) -> Organisation:
        kind = self.rng.choices(list(weights), weights=list(weights.values()))[0]
        return self.rng.choice(self.by_type[kind])

    def _name(self) -> str:
        return f"{self.rng.choice(GIVEN_NAMES)} {self.rng.choice(FAMILY_NAMES)}"

    def _at(self, day: date) -> datetime:
        """A moment in the working day, as a service would have stamped it."""
        return datetime.combine(day, clock(8, 0), UTC) + timedelta(seconds=self.rng.randrange(10 * 3600))

    @staticmethod
    def _weekday(day: date) -> date:
        """Practice happens on working days: a weekend date moves back to the Friday."""
        return day - timedelta(days=max(day.weekday() - 4, 0))

    # --- one plan -------------------------------------------------------------------------

    def _plan(self, outcome: str) -> Plan:
        """A first plan that ended up as `outcome`, its dates placed so that it did by today."""
        rng = self.rng
        request_days = rng.randint(1, 14) if rng.random() < REQUEST_FIRST_SHARE else None
        submit_days = min(int(rng.triangular(0, 12, 3)), 12)
        activate_days = self._activation_delay(request_days, submit_days)
        life = self._life(outcome) if outcome not in ("active", "draft") else 0
        if outcome == "draft":
            opened_on = self.today - timedelta(days=rng.randint(submit_days, 21))
        elif outcome == "active":
            opened_on = self.today - timedelta(days=rng.randint(activate_days, activate_days + 280))
        else:
            # Closures fall evenly over the 18 months, as in a service that has run for years: a plan
            # that closed early on opened before them.
            closed_on = self.first_day + timedelta(days=rng.randint(0, HISTORY_DAYS - 1))
            opened_on = closed_on - timedelta(days=activate_days + life)
        opened_on = self._weekday(opened_on)
        return self._write(
            outcome,
            family_id=self._id(),
            opened_on=opened_on,
            request_days=request_days,
            submit_days=submit_days,
            activate_days=activate_days,
            life=life,
            last_closure=None,
        )

    def _re_referral(self, earlier: Plan) -> None:
        """The family of a closed plan back within 12 months: a new plan, however far it has got by today."""
        rng = self.rng
        closed_on = earlier.closed_on
        assert closed_on is not None
        band = rng.random()
        gap = rng.randint(7, 42) if band < 0.25 else rng.randint(43, 183) if band < 0.6 else rng.randint(184, 365)
        gap = min(gap, (self.today - closed_on).days)
        opened_on = self._weekday(closed_on + timedelta(days=gap))
        if opened_on <= closed_on:
            opened_on = closed_on + timedelta(days=1)
        request_days = min(rng.randint(1, 14), (opened_on - closed_on).days - 1) if rng.random() < 0.6 else None
        submit_days = min(int(rng.triangular(0, 12, 3)), 12)
        activate_days = self._activation_delay(request_days or None, submit_days)
        outcome = rng.choices(list(OUTCOMES)[:5], weights=list(OUTCOMES.values())[:5])[0]
        life = self._life(outcome)
        age = (self.today - opened_on).days
        if age < submit_days + 1:
            outcome, submit_days = "draft", max(age, 0)
        elif age < activate_days:
            outcome = "draft"
        elif age < activate_days + life:
            outcome = "active"
        self._write(
            outcome,
            family_id=earlier.family_id,
            opened_on=opened_on,
            request_days=request_days or None,
            submit_days=submit_days,
            activate_days=activate_days,
            life=life,
            last_closure=closed_on,
        )

    def _activation_delay(self, request_days: int | None, submit_days: int) -> int:
        """Calendar days from opening to activation: mostly within 10 working days of the first contact."""
        working = 1 + int(self.rng.gammavariate(2.2, 3.2))
        calendar = (working * 7 + 4) // 5 - (request_days or 0)
        return max(calendar, submit_days + 1)

    def _life(self, outcome: str) -> int:
        rng = self.rng
        if outcome == "outcomes_met":
            return max(60, min(int(rng.gauss(190, 60)), 420))
        if outcome == STEPPED_UP:
            return rng.randint(14, 200)
        return rng.randint(30, 300)

    def _write(
        self,
        outcome: str,
        *,
        family_id: str,
        opened_on: date,
        request_days: int | None,
        submit_days: int,
        activate_days: int,
        life: int,
        last_closure: date | None,
    ) -> Plan:
        """The plan as the service would have written it: opened, then activated, reviewed and closed by `lifecycle`."""
        rng = self.rng
        status = outcome if outcome in ("active", "draft") else "closed"
        author = self._organisation(ASSESSORS)
        submitted_on = min(opened_on + timedelta(days=submit_days), self.today)
        request_on = self._weekday(opened_on - timedelta(days=request_days)) if request_days else None
        request_at = self._at(request_on) if request_on else None
        activated_on = (
            min(max(self._weekday(opened_on + timedelta(days=activate_days)), submitted_on), self.today)
            if status != "draft"
            else None
        )
        closed_on = None
        if status == "closed":
            assert activated_on is not None
            closed_on = min(max(self._weekday(activated_on + timedelta(days=life)), activated_on), self.today)
        started_at = self._at(opened_on)
        created_at = max(self._at(submitted_on), started_at + timedelta(minutes=40))
        lead = self.rng.choice(self.leads) if status != "draft" or rng.random() < 0.4 else None
        team = self._team(lead[1] if lead else None, draft=status == "draft")
        needs = self._needs(outcome)
        goals = self._goals(needs, opened_on, draft=status == "draft")
        reviews = self._reviews(goals, lead, activated_on, closed_on or self.today) if activated_on else []
        plan_id, assessment_id = self._id(), self._id()
        # One version for each change: the lead and team, each goal, activation, each review, closure.
        changes = [lead is not None or bool(team), activated_on is not None, closed_on is not None]
        days = days_since_closure(last_closure, opened_on)
        plan = Plan(
            id=plan_id,
            family_id=family_id,
            status="draft",
            version=1 + sum(changes) + len(goals) + len(reviews),
            organisation_id=author.id,
            created_by="service:plan",
            assessment_id=assessment_id,
            lead_name=lead[0] if lead else None,
            lead_organisation_id=lead[1].id if lead else None,
            lead_email=f"{lead[0].lower().replace(' ', '.')}@{lead[1].id}.example" if lead else None,
            team=team,
            needs=needs,
            goals=goals,
            actions=self._actions(activated_on, lead) if activated_on else [],
            reviews=[],
            children=rng.choices((1, 2, 3, 4, 5), weights=(38, 34, 17, 8, 3))[0],
            level_of_need=rng.choices(("2", "3"), weights=(65, 35))[0],
            requested_on=requested_on(request_at, opened_on, last_closure),
            opened_on=opened_on,
            created_at=created_at,
            updated_at=created_at,
            stepped_down_from=None,
            re_referral=days is not None,
            days_since_last_closure=days,
        )
        lifecycle.first_episode(plan)
        if activated_on is not None:
            lifecycle.activate(plan, activated_on)
        for review in reviews:  # as the service records each one
            plan.reviews = [*plan.reviews, review]
            plan.next_review_due = review.next_review_due
        if closed_on is not None and outcome == STEPPED_UP:
            lifecycle.step_up(plan, rng.choice(STEP_UP_REASONS), closed_on)
        elif closed_on is not None:
            lifecycle.close(plan, outcome, rng.choice(CLOSE_NOTES), closed_on)
        plan.updated_at = max(created_at, self._at(max(lifecycle.latest_milestone(plan), submitted_on)))
        # The service's sweep announces a review that has fallen due once; it would have by now.
        due = plan.next_review_due
        plan.review_due_announced = due if due is not None and due <= self.today else None
        self.data.plans.append(plan)
        self.data.plan_episodes.extend(episode_rows(plan))
        self.data.plan_organisations.extend(
            PlanOrganisation(plan_id=plan_id, organisation_id=organisation)
            for organisation in sorted(plan_organisations(plan))
        )
        self.data.assessments.append(
            self._assessment(
                assessment_id, family_id, author, "early-help-assessment", started_at, created_at, last_closure
            )
        )
        if request_on is not None and request_at is not None:
            self.data.assessments.append(
                self._assessment(
                    self._id(), family_id, self._organisation(REQUESTERS), "request-for-support", request_at,
                    request_at, last_closure,
                )
            )  # fmt: skip
        return plan

    def _team(self, lead: Organisation | None, *, draft: bool) -> list[TeamMember]:
        """The team around the family: the lead's organisation and the agencies working with the family."""
        others = self.rng.choice((0, 1)) if draft else self.rng.choices((1, 2, 3), weights=(35, 45, 20))[0]
        members: dict[str, TeamMember] = {}
        for organisation in [*([lead] if lead else []), *self.rng.sample(self._all(), others)]:
            role = self.rng.choice(ROLES[organisation.type])
            members.setdefault(organisation.id, TeamMember(organisation_id=organisation.id, role=role))
        return list(members.values())

    def _all(self) -> list[Organisation]:
        return [organisation for organisations in self.by_type.values() for organisation in organisations]

    def _needs(self, outcome: str) -> list[Need]:
        rng = self.rng
        count = rng.choices((1, 2, 3, 4, 5), weights=(12, 28, 30, 20, 10))[0]
        areas = self._areas(count)
        all_met = outcome == "outcomes_met" and rng.random() < 0.85
        needs = []
        for area in areas:
            status: NeedStatus
            if outcome == "draft":
                status = "open"
            elif outcome == "active":
                status = "met" if rng.random() < 0.3 else "open"
            elif all_met:
                status = "met"
            elif outcome == "outcomes_met":
                status = "met" if rng.random() < 0.6 else "not_met"
            else:
                status = rng.choices(NEED_STATUSES, weights=(25, 50, 25))[0]
            needs.append(Need(id=self._id(), description=OUTCOME_AREAS[area][1], outcome_area=area, status=status))
        if outcome == "outcomes_met" and not all_met and all(need.status == "met" for need in needs):
            needs[-1] = needs[-1].model_copy(update={"status": "not_met"})
        return needs

    def _areas(self, count: int) -> list[str]:
        """`count` different outcome areas, the common ones more often."""
        weights = {area: float(details[0]) for area, details in OUTCOME_AREAS.items()}
        chosen = []
        for _ in range(count):
            area = self.rng.choices(list(weights), weights=list(weights.values()))[0]
            chosen.append(area)
            del weights[area]
        return chosen

    def _goals(self, needs: Sequence[Need], opened_on: date, *, draft: bool) -> list[Goal]:
        chosen = needs[: self.rng.choice((0, 1))] if draft else needs
        return [
            Goal(
                id=self._id(),
                need_ids=[need.id],
                outcome_area=need.outcome_area,
                description=OUTCOME_AREAS[need.outcome_area][2],
                measure_of_success=OUTCOME_AREAS[need.outcome_area][3],
                added_at=self._at(min(opened_on + timedelta(days=self.rng.randint(0, 5)), self.today)),
            )
            for need in chosen
        ]

    def _actions(self, activated_on: date, lead: tuple[str, Organisation] | None) -> list[Action]:
        owner, organisation = lead or self.rng.choice(self.leads)
        actions = []
        for description in self.rng.sample(ACTIONS, self.rng.randint(1, 4)):
            due_on = activated_on + timedelta(days=self.rng.randint(14, 120))
            done_on = due_on - timedelta(days=self.rng.randint(0, 10)) if due_on < self.today else None
            actions.append(
                Action(
                    id=self._id(),
                    description=description,
                    owner=owner,
                    organisation_id=organisation.id,
                    due_on=due_on,
                    done_on=done_on,
                )
            )
        return actions

    def _reviews(
        self, goals: Sequence[Goal], lead: tuple[str, Organisation] | None, activated_on: date, until: date
    ) -> list[Review]:
        """A review every 6 weeks from activation, each rating every goal on the change matrix."""
        rng = self.rng
        reviews: list[Review] = []
        held_on = activated_on
        name, organisation = lead or rng.choice(self.leads)
        while len(reviews) < 10:
            held_on = self._weekday(held_on + REVIEW_INTERVAL)
            if held_on > until:
                break
            stage = min(len(reviews) + rng.randint(0, 2), len(STAGES) - 1)
            reviews.append(
                Review(
                    id=self._id(),
                    held_on=held_on,
                    attendees=[
                        Attendee(name=name, role="Lead professional", organisation_id=organisation.id),
                        Attendee(name=self._name(), role="Parent", organisation_id=None),
                    ],
                    family_voice=rng.choice(FAMILY_VOICES),
                    ratings=[
                        Rating(goal_id=goal.id, stage=STAGES[stage], score=min(2 * stage + rng.randint(1, 2), 10))
                        for goal in goals
                    ],
                    next_review_due=held_on + REVIEW_INTERVAL,
                    recorded_by=f"staff:{name.lower().replace(' ', '.')}",
                    organisation_id=organisation.id,
                    recorded_at=self._at(held_on),
                )
            )
        return reviews

    # --- assessments ----------------------------------------------------------------------

    def _assessment(
        self,
        assessment_id: str,
        family_id: str,
        organisation: Organisation,
        form_key: str,
        started_at: datetime,
        submitted_at: datetime | None,
        last_closure: date | None,
    ) -> AssessmentRecord:
        """An assessment or request as the service notes it, a re-referral when submitted within 12 months of
        the family's last closure."""
        days = days_since_closure(last_closure, submitted_at.date()) if submitted_at is not None else None
        return AssessmentRecord(
            assessment_id=assessment_id,
            family_id=family_id,
            organisation_id=organisation.id,
            organisation_type=organisation.type,
            form_key=form_key,
            started_at=started_at,
            submitted_at=submitted_at,
            re_referral=days is not None,
            days_since_last_closure=days,
        )

    def _other_assessments(self, count: int) -> None:
        """Assessments still being written (or given up), and requests for support that led to no plan."""
        for _ in range(max(count, 0)):
            if self.rng.random() < 0.6:
                started = self.today - timedelta(days=int(self.rng.triangular(0, HISTORY_DAYS, 0)))
                organisation, form_key, submitted = self._organisation(ASSESSORS), "early-help-assessment", False
            else:
                started = self.first_day + timedelta(days=self.rng.randint(0, HISTORY_DAYS))
                organisation, form_key, submitted = self._organisation(REQUESTERS), "request-for-support", True
            at = self._at(self._weekday(started))
            self.data.assessments.append(
                self._assessment(self._id(), self._id(), organisation, form_key, at, at if submitted else None, None)
            )


# --- writing it into the service's database --------------------------------------------------


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


TABLES = (
    (_table(Plan), "plans"),
    (_table(PlanOrganisation), "plan_organisations"),
    (_table(PlanEpisode), "plan_episodes"),
    (_table(AssessmentRecord), "assessments"),
)


def _chunks(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), INSERT_CHUNK):
        yield rows[start : start + INSERT_CHUNK]


def _values(table: Table, row: Any) -> dict[str, Any]:
    """A row's columns by name, as SQLAlchemy binds them (the plan's document typed, turned to JSON by its column)."""
    return {column.name: getattr(row, column.name) for column in table.columns}


def _record(table: Table, row: Any) -> tuple[Any, ...]:
    """A row's columns in order, for COPY: the plan's document as JSON text."""
    return tuple(
        json.dumps(dumped(value)) if isinstance(column.type, PlanDocumentColumn) else value
        for column in table.columns
        for value in (getattr(row, column.name),)
    )


async def write(database_url: str, data: PracticeData) -> None:
    """The rows straight into the service's tables with the database's fast path, then statistics for its planner."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        try:
            for table, attribute in TABLES:
                rows: list[Any] = getattr(data, attribute)
                columns = [column.name for column in table.columns]
                records = (_record(table, row) for row in rows)
                await connection.copy_records_to_table(table.name, records=records, columns=columns)
            # Autovacuum would have done this on a live database; without it the planner guesses.
            await connection.execute("VACUUM ANALYZE plan, plan_organisation, plan_episode, assessment_record")
        finally:
            await connection.close()
        return
    engine = create_async_engine(database_url, connect_args={"timeout": 60})
    try:
        async with engine.begin() as connection:
            for table, attribute in TABLES:
                for chunk in _chunks(getattr(data, attribute)):
                    await connection.execute(insert(table), [_values(table, row) for row in chunk])
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


# --- the timing -------------------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it has fewer days)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def period(report: str, today: date) -> dict[str, str]:
    """From the day after the same day `months` ago to today; nothing for a report as of today."""
    if not REPORTS[report]:
        return {}
    months = PERIOD_MONTHS.get(report, 12)
    return {"from": (months_before(today, months) + timedelta(days=1)).isoformat(), "to": today.isoformat()}


def counted(report: str, answer: dict[str, Any]) -> int | str:
    """How many assessments or plans the report's answer counts; "?" for a report this script does not know."""
    if report in COUNTED_BY:
        return int(answer[COUNTED_BY[report]])
    if report == "caseload":
        return sum(int(lead["families"]) for lead in answer["leads"])
    if report == "claims":
        return len(answer["candidates"]) + int(answer["awaiting_six_months"])
    return "?"


@dataclass(frozen=True)
class Timing:
    report: str
    token: str
    counted: int | str
    body_bytes: int
    service: Load
    baseline: Load


async def time_report(
    report: str,
    token: str,
    service: httpx.AsyncClient,
    baseline: httpx.AsyncClient,
    today: date,
    arguments: argparse.Namespace,
) -> Timing:
    path, params = f"/reports/{report}", period(report, today)
    first = await service.get(path, params=params)
    if first.status_code != 200:
        raise RuntimeError(f"GET {path} answered {first.status_code}: {first.text[:500]}")
    size = len(first.content)
    same_size = {"bytes": str(size)}

    async def ask_service(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path, params=params)

    async def ask_baseline(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path, params=same_size)

    await drive([service], arguments.warmup, ask_service)
    await drive([baseline], arguments.warmup, ask_baseline)
    timed_service = await drive([service], arguments.requests, ask_service)
    timed_baseline = await drive([baseline], arguments.requests, ask_baseline)
    return Timing(report, token, counted(report, first.json()), size, timed_service, timed_baseline)


async def make_client(gateway: Gateway, admin: httpx.AsyncClient, body: dict[str, str], scopes: list[str]) -> Gateway:
    """An organisation and a client of it holding `scopes`; the client's credentials, the organisation in `body`."""
    organisation = await admin.post("/admin/organisations", json=body)
    if organisation.status_code != 201:
        raise RuntimeError(f"POST /admin/organisations answered {organisation.status_code}: {organisation.text[:500]}")
    body["id"] = organisation.json()["id"]
    client = await admin.post(
        "/admin/clients", json={"organisation_id": body["id"], "name": f"{body['name']} reports", "scopes": scopes}
    )
    if client.status_code != 201:
        raise RuntimeError(f"POST /admin/clients answered {client.status_code}: {client.text[:500]}")
    return Gateway(gateway.url, client.json()["id"], client.json()["client_secret"])


async def bearer(token_client: httpx.AsyncClient, credentials: Gateway) -> str:
    issued = await token_client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=credentials.basic_auth
    )
    issued.raise_for_status()
    return f"Bearer {issued.json()['access_token']}"


@dataclass(frozen=True)
class Callers:
    analyst: Gateway  # reports:read reports:all, a council's
    school: Gateway  # reports:read only
    organisations: list[Organisation]
    school_id: str


async def callers(gateway: Gateway, token_client: httpx.AsyncClient, seed: int) -> Callers:
    """The analyst's and the school's clients, and the 20 organisations of the practice with their two among them."""
    token_client.headers["Authorization"] = await bearer(token_client, gateway)
    analyst_body, school_body = dict(ANALYST_ORGANISATION), dict(SCHOOL_ORGANISATION)
    analyst = await make_client(gateway, token_client, analyst_body, ANALYST_SCOPES)
    school = await make_client(gateway, token_client, school_body, SCHOOL_SCOPES)
    del token_client.headers["Authorization"]
    rng = random.Random(seed)
    organisations = [Organisation(analyst_body["id"], "council"), Organisation(school_body["id"], "school")]
    for kind, count in ORGANISATIONS.items():
        made = sum(1 for organisation in organisations if organisation.type == kind)
        organisations += [
            Organisation(str(uuid.UUID(int=rng.getrandbits(128), version=4)), kind) for _ in range(count - made)
        ]
    return Callers(analyst, school, organisations, school_body["id"])


@dataclass
class BackendResult:
    backend: str
    seconds_written: float
    timings: list[Timing]


async def measure_backend(
    backend: str,
    server_url: str | None,
    folder: Path,
    nats_url: str,
    gateway: Gateway,
    token_client: httpx.AsyncClient,
    baseline: httpx.AsyncClient,
    who: Callers,
    data: PracticeData,
    today: date,
    arguments: argparse.Namespace,
) -> BackendResult:
    async with AsyncExitStack() as stack:
        service_url, database_url = await serving_service(
            stack, "plan", backend, server_url, folder, nats_url, gateway.url
        )
        service = await stack.enter_async_context(httpx.AsyncClient(base_url=service_url, timeout=60.0))
        await wait_healthy(service)  # and so migrated: the lifespan migrates before the service answers

        started = time.perf_counter()
        await write(database_url, data)
        written = time.perf_counter() - started

        timings = []
        tokens = {"all": await bearer(token_client, who.analyst), "school": await bearer(token_client, who.school)}
        for report in REPORTS:
            service.headers["Authorization"] = tokens["all"]
            timings.append(await time_report(report, "reports:all", service, baseline, today, arguments))
        service.headers["Authorization"] = tokens["school"]
        timings.append(await time_report(arguments.narrow, "one school", service, baseline, today, arguments))
    return BackendResult(backend, written, timings)


def report(result: BackendResult, data: PracticeData, arguments: argparse.Namespace) -> None:
    rows = ", ".join(f"{len(getattr(data, attribute)):,} {table.name}" for table, attribute in TABLES)
    print(
        f"Plan reports on {BACKEND_TITLES[result.backend]}: {rows} rows, written in {result.seconds_written:.0f} s "
        "(untimed)"
    )
    print(data.proportions())
    print(
        f"(one uvicorn worker each; one request at a time, {arguments.requests} timed after {arguments.warmup} "
        "warm-up requests per report; 12 months to today, re-referrals 3 months, the others as of today; "
        "the baseline answers a JSON body of the same size; the client runs in this process on the same cores)"
    )
    print_table(
        ["report", "token", "counted", "body KB", "p50 ms", "p99 ms", "baseline p50", "baseline p99", "under 500 ms"],
        [
            [
                timing.report,
                timing.token,
                timing.counted,
                timing.body_bytes / 1024,
                timing.service.p50,
                timing.service.p99,
                timing.baseline.p50,
                timing.baseline.p99,
                "met" if timing.service.p99 < TARGET_MS else "missed",
            ]
            for timing in result.timings
        ],
    )
    missed = [timing.report for timing in result.timings if timing.service.p99 >= TARGET_MS]
    worst = max(result.timings, key=lambda timing: timing.service.p99)
    verdict = f"missed by {', '.join(missed)}" if missed else "met"
    slowest = f"slowest: {worst.report}, {worst.service.p99:,.0f} ms"
    aim = f"every report under {TARGET_MS:g} ms at p99: {verdict} ({slowest})"
    print(f"aim: {aim}" if result.backend == "postgresql" else f"aim (set for PostgreSQL, shown for comparison): {aim}")
    median_ratio = statistics.median(t.service.p50 / t.baseline.p50 for t in result.timings)
    print(f"p50, report / baseline, median over reports: {median_ratio:.1f}x")


async def main(backends: Sequence[tuple[str, str | None]], arguments: argparse.Namespace) -> None:
    results = []
    with scratch_folder() as folder, running_nats(folder / "nats") as server:
        async with AsyncExitStack() as stack:
            gateway_database = await stack.enter_async_context(scratch_database(folder, "gateway"))
            baseline_url = stack.enter_context(
                serving("bench.apps:create_bare_report_app", free_port(), {}, folder / "baseline.log")
            )
            gateway = stack.enter_context(running_gateway(folder, server.url, gateway_database, baseline_url))
            token_client = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway.url, timeout=30.0))
            baseline = await stack.enter_async_context(httpx.AsyncClient(base_url=baseline_url, timeout=60.0))
            await wait_healthy(token_client)
            await wait_healthy(baseline)
            who = await callers(gateway, token_client, arguments.seed)
            today = date.today()
            data = Practice(arguments.seed, today, who.organisations).make(arguments.plans, arguments.assessments)
            for backend, server_url in backends:
                result = await measure_backend(
                    backend, server_url, folder, server.url, gateway, token_client, baseline, who, data, today,
                    arguments,
                )  # fmt: skip
                results.append(result)
    for number, result in enumerate(results):
        if number:
            print()
        report(result, data, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_databases_argument(parser)
    parser.add_argument("--plans", type=int, default=100_000, help="plans written (default: %(default)s)")
    parser.add_argument(
        "--assessments",
        type=int,
        default=150_000,
        help="assessments and requests for support written, at least one per plan (default: %(default)s)",
    )
    parser.add_argument("--requests", type=int, default=20, help="requests timed per report (default: %(default)s)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed requests per report first (default: %(default)s)"
    )
    parser.add_argument(
        "--narrow",
        choices=REPORTS,
        default="re-referrals",
        help="the report timed again with one school's token, reports:read only (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=2025, help="seed of the practice data (default: %(default)s)")
    add_loop_argument(parser)
    arguments = parser.parse_args()
    run(main(chosen_backends(arguments.databases), arguments), arguments.loop)
