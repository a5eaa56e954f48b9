"""Telling many families' stories to the gateway at once, as partner systems would, and tallying what was done.

A school, a health visitor or the council registers the family; a school's or health's
request for support is decided at the front door by the council, an early help
coordinator; the council's early help team assesses the family, and the plan service
opens a plan when the assessment's next step calls for one (or records its referral
to social care). The plan is agreed, its contacts with the family are recorded, the
family joins Supporting Families on the council's outcomes plan, and the plan is reviewed
and closed, stepped up to social care (and sometimes back down); some closed families come
back, have their plan reopened, or are referred to social care. Social care's decision on
each referral is recorded, and the council claims for the families whose progress or work
has held for the outcomes plan's months. The council authors the assessments because a
plan belongs to the organisation whose assessment opened it, and of the demo
clients only the council's may change plans.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from typing import Any

import httpx

from services.plan.service.supporting_families import months_after
from tools.synthetic.bodies import (
    TEAM_ROLES,
    assessment_answers,
    contact_body,
    family_body,
    request_answers,
    review_body,
)
from tools.synthetic.gateway import Client, Gateway, LoadFailed
from tools.synthetic.people import Member, lead_email
from tools.synthetic.proportions import (
    CLOSE_REASONS,
    CONTACT_KINDS,
    EARLY_HELP_ASSESSMENT,
    FRONT_DOOR_OUTCOMES,
    NO_PLAN_NEXT_STEPS,
    OUTCOMES_MET,
    REFER_TO_SOCIAL_CARE,
    REFERRAL_OUTCOMES,
    REFERRERS,
    STEPPED_UP,
)
from tools.synthetic.stories import (
    CONTINUOUS_EMPLOYMENT,
    NEEDS,
    SIGNIFICANT_AND_SUSTAINED,
    Enrolment,
    Episode,
    Referral,
    Story,
    as_of_today,
    plan_story,
)

PLAN_OPENS_WITHIN_SECONDS = 120.0
PROGRESS_EVERY_SECONDS = 10.0
REFERRAL_SOURCES = ("step_up", "front_door", "after_closure")
REASONS = {  # kept with the record, never in events; general words only
    "front_door": "The request shows needs beyond early help; the front door refers the family to social care.",
    "after_closure": "New concerns since early help closed; referred to children's social care.",
    "step_up": "Concerns escalated; children's social care takes the lead",
    "discard": "Assessed again with the family's fuller account; this draft is not going on.",
    "reopen": "The family asked for help again; the same lead professional picks the plan up.",
}
DECISION_NOTES = {
    "no_further_action": "Needs are being met; no further action.",
    "signpost": "Signposted to the family hub's groups and the parenting line.",
    "multi_agency_panel": "To the multi-agency panel: more to learn before deciding who leads.",
    REFER_TO_SOCIAL_CARE: "Needs beyond early help: referred to children's social care.",
    EARLY_HELP_ASSESSMENT: "Allocated to the early help team for an assessment.",
}


class Loader:
    def __init__(
        self, gateway: Gateway, clients: dict[str, Client], outcomes_plan: dict[str, Any], as_of: date
    ) -> None:
        self.gateway = gateway
        self.clients = clients
        self.council = clients["council"]
        self.outcomes_plan = outcomes_plan  # as the plan service answers it: the claims' rules
        self.as_of = as_of
        self.tally: Counter[str] = Counter()
        self.families_done = 0

    async def family(self, story: Story) -> None:
        referrer = self.clients[story.referrer]
        family = await self.gateway.call(referrer, "POST", "/families", 201, json=family_body(story))
        family_id = family["id"]
        self.tally["families registered"] += 1
        self.tally[f"families registered by {story.referrer}"] += 1
        if story.front_door is not None:
            await self._front_door(story, referrer, family_id)
        plan: dict[str, Any] = {}
        enrolment_id = None
        for number, episode in enumerate(story.episodes):
            if plan:
                self.tally["re-referred"] += 1
            plan, enrolled = await self._episode(story, number, episode, family_id)
            enrolment_id = enrolled or enrolment_id
        for referral in story.referrals:
            await self._referral(referral, family_id, plan)
        if story.reopened:
            plan = await self._change(plan, "POST", "/reopen", {"reason": REASONS["reopen"]})
            self.tally["plans reopened"] += 1
            self.tally["plans active"] += 1
        if story.stepped_down:
            await self.gateway.call(
                self.council, "POST", f"/plans/{plan['id']}/step-down", 201, version=plan["version"],
                json={"lead_professional": self._lead(story.episodes[-1])},
            )  # fmt: skip
            self.tally["stepped down"] += 1
            self.tally["plans in draft"] += 1
        if story.supporting_families is not None and enrolment_id is not None:
            await self._claim(story.supporting_families, enrolment_id)
        self.families_done += 1

    async def _front_door(self, story: Story, referrer: Client, family_id: str) -> None:
        """The request for support, and the council's decision on it as the early help coordinator."""
        assert story.front_door is not None
        answers = request_answers(story, referrer.organisation, referrer.type)
        request = await self._assessment(referrer, family_id, "request-for-support", answers)
        self.tally["requests for support"] += 1
        outcome = story.front_door.outcome
        decision: dict[str, Any] = {"outcome": outcome, "note": DECISION_NOTES[outcome]}
        if outcome == EARLY_HELP_ASSESSMENT:
            decision["allocated_organisation_id"] = self.council.organisation_id
        await self.gateway.call(
            self.council, "POST", f"/requests-for-support/{request['id']}/decision", 201, json=decision
        )
        self.tally[f"front door: {outcome}"] += 1

    async def _assessment(self, client: Client, family_id: str, form: str, answers: dict[str, Any]) -> dict[str, Any]:
        body = {"family_id": family_id, "form": {"key": form, "version": 1}, "answers": answers, "status": "submitted"}
        created: dict[str, Any] = await self.gateway.call(client, "POST", "/assessments", 201, json=body)
        return created

    def _lead(self, episode: Episode) -> dict[str, str]:
        return {
            "name": episode.lead,
            "organisation_id": self.council.organisation_id,
            "email": lead_email(episode.lead),
        }

    async def _once_there(self, what: str, family_id: str, found: Callable[[], Awaitable[Any]]) -> Any:
        """What the plan service makes on its own once it hears of a submitted assessment, when it is there."""
        deadline = time.monotonic() + PLAN_OPENS_WITHIN_SECONDS
        wait = 0.1
        while (there := await found()) is None:
            if time.monotonic() > deadline:
                raise LoadFailed(
                    f"no {what} within {PLAN_OPENS_WITHIN_SECONDS:.0f}s of an assessment of family {family_id}: "
                    "is the plan service consuming assessment.submitted?"
                )
            await asyncio.sleep(wait)
            wait = min(wait * 2, 2.0)
        return there

    async def _opened_plan(self, family_id: str) -> dict[str, Any]:
        """The draft the plan service opens once it hears of the submitted assessment."""

        async def draft() -> dict[str, Any] | None:
            plans = await self.gateway.call(self.council, "GET", "/plans", params={"family_id": family_id})
            found = next((plan for plan in plans if plan["status"] == "draft"), None)
            return None if found is None else await self.gateway.call(self.council, "GET", f"/plans/{found['id']}")

        opened: dict[str, Any] = await self._once_there("plan opened", family_id, draft)
        return opened

    async def _referrals(self, family_id: str) -> list[dict[str, Any]]:
        path = f"/families/{family_id}/social-care-referrals"
        referrals: list[dict[str, Any]] = await self.gateway.call(self.council, "GET", path)
        return referrals

    async def _change(self, plan: dict[str, Any], method: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        changed: dict[str, Any] = await self.gateway.call(
            self.council, method, f"/plans/{plan['id']}{action}", version=plan["version"], json=body
        )
        return changed

    async def _episode(
        self, story: Story, number: int, episode: Episode, family_id: str
    ) -> tuple[dict[str, Any], str | None]:
        """The assessment and, when its next step calls for one, the plan it opens, told to its ending; and the
        family's Supporting Families enrolment when it joined in this episode."""
        answers = assessment_answers(story, episode)
        if episode.discarded_draft:
            await self._assessment(self.council, family_id, "early-help-assessment", answers)
            self.tally["early help assessments"] += 1
            draft = await self._opened_plan(family_id)
            self.tally["plans opened"] += 1
            await self._change(draft, "POST", "/discard", {"reason": REASONS["discard"]})
            self.tally["drafts discarded"] += 1
        assessment = await self._assessment(self.council, family_id, "early-help-assessment", answers)
        self.tally["early help assessments"] += 1
        if not episode.opens_a_plan:
            self.tally[f"next step: {episode.next_step}"] += 1
            return {"assessment_id": assessment["id"]}, None
        plan = await self._opened_plan(family_id)
        self.tally["plans opened"] += 1
        lead = self._lead(episode)
        team = [{"organisation_id": self.council.organisation_id, "role": "Lead professional"}]
        for kind in [story.referrer, *(["voluntary"] if story.charity_on_team else [])]:
            if kind in TEAM_ROLES and kind in self.clients:
                team.append({"organisation_id": self.clients[kind].organisation_id, "role": TEAM_ROLES[kind]})
        first_visit = {"description": "Home visit to agree the plan with the family", "owner": episode.lead,
                       "organisation_id": lead["organisation_id"], "due_on": episode.completed.isoformat()}  # fmt: skip
        plan = await self._change(
            plan, "PATCH", "", {"lead_professional": lead, "team": team, "actions": [first_visit]}
        )
        for need in plan["needs"]:
            goal, measure = NEEDS[need["outcome_area"]][2]
            body = {"need_ids": [need["id"]], "outcome_area": need["outcome_area"], "description": goal,
                    "measure_of_success": measure}  # fmt: skip
            plan = await self._change(plan, "POST", "/goals", body)
        if episode.activated is None:
            self.tally["plans in draft"] += 1
            return plan, None
        plan = await self._change(plan, "POST", "/activate", {"activated_on": episode.activated.isoformat()})
        self.tally["plans activated"] += 1
        enrolment = story.supporting_families
        enrolment_id = await self._enrol(family_id, enrolment) if enrolment and enrolment.episode == number else None
        carer = next(member for member in story.members if member.role == "adult")
        await self._contacts(plan, episode, lead, carer)
        for review in episode.reviews:
            plan = await self._change(plan, "POST", "/reviews", review_body(review, plan, lead, carer))
            self.tally["reviews recorded"] += 1
        if episode.ending is None or episode.ended is None:
            self.tally["plans active"] += 1
            return plan, enrolment_id
        self.tally["plans closed"] += 1
        self.tally[f"closed: {episode.ending}"] += 1
        if episode.ending == STEPPED_UP:
            body = {"reason": REASONS["step_up"], "stepped_up_on": episode.ended.isoformat()}
            return await self._change(plan, "POST", "/step-up", body), enrolment_id
        if episode.ending == OUTCOMES_MET:
            plan = await self._change(
                plan, "PATCH", "", {"needs": [{**need, "status": "met"} for need in plan["needs"]]}
            )
        closed = await self._change(
            plan, "POST", "/close", {"reason": episode.ending, "closed_on": episode.ended.isoformat()}
        )
        return closed, enrolment_id

    async def _enrol(self, family_id: str, enrolment: Enrolment) -> str:
        """The family joins Supporting Families on the day its plan is activated, on its needs' headline areas."""
        body = {
            "family_id": family_id,
            "areas": list(enrolment.areas),
            "enrolled_on": enrolment.enrolled_on.isoformat(),
        }
        enrolled = await self.gateway.call(self.council, "POST", "/supporting-families/enrolments", 201, json=body)
        self.tally["supporting families: enrolled"] += 1
        return str(enrolled["id"])

    async def _claim(self, enrolment: Enrolment, enrolment_id: str) -> None:
        """The council's claim, once the progress or the work it rests on has held for the outcomes plan's months
        by the day of the load; dated the day it had."""
        if enrolment.route is None or enrolment.evidence_from is None:
            return
        body: dict[str, Any] = {"enrolment_id": enrolment_id, "route": enrolment.route}
        if enrolment.route == SIGNIFICANT_AND_SUSTAINED:
            areas = {area["key"]: area for area in self.outcomes_plan["headline_areas"]}
            body["outcomes"] = [
                {"area": key, "indicator": areas[key]["indicators"][0]["key"],
                 "achieved_on": enrolment.evidence_from.isoformat(),
                 "sustained_until": months_after(enrolment.evidence_from, areas[key]["sustained_months"]).isoformat()}
                for key in enrolment.areas
            ]  # fmt: skip
            claimed_on = max(date.fromisoformat(item["sustained_until"]) for item in body["outcomes"])
        else:
            assert enrolment.route == CONTINUOUS_EMPLOYMENT
            until = months_after(enrolment.evidence_from, self.outcomes_plan["continuous_employment_months"])
            body["employment"] = {
                "started_on": enrolment.evidence_from.isoformat(),
                "sustained_until": until.isoformat(),
            }
            claimed_on = until
        if claimed_on > self.as_of:
            self.tally["supporting families: awaiting a claim"] += 1
            return
        body["claimed_on"] = claimed_on.isoformat()
        await self.gateway.call(self.council, "POST", "/supporting-families/claims", 201, json=body)
        self.tally["supporting families: claimed"] += 1
        self.tally[f"supporting families claimed: {enrolment.route}"] += 1

    async def _contacts(self, plan: dict[str, Any], episode: Episode, lead: dict[str, str], carer: Member) -> None:
        """The plan's contacts with the family, back-dated across its active period; a contact leaves the plan's
        version as it is."""
        for contact in episode.contacts:
            body = contact_body(contact, lead, carer)
            await self.gateway.call(self.council, "POST", f"/plans/{plan['id']}/contacts", 201, json=body)
            self.tally["contacts recorded"] += 1
            self.tally[f"contacts: {contact.kind}"] += 1

    async def _referral(self, referral: Referral, family_id: str, last: dict[str, Any]) -> None:
        """A referral to social care, made here or found where the service made it, and social care's decision."""
        if referral.source == "step_up":  # the step-up made it
            made = next(r for r in await self._referrals(family_id) if r["plan_id"] == last["id"])
        elif referral.referred_on is None:  # the plan service makes it on hearing of the assessment
            made = await self._once_there(
                "referral to social care", family_id,
                lambda: self._front_door_referral(family_id, last["assessment_id"]),
            )  # fmt: skip
        else:
            body = {"referred_on": referral.referred_on.isoformat(), "source": referral.source,
                    "reason": REASONS[referral.source]}  # fmt: skip
            made = await self.gateway.call(
                self.council, "POST", f"/families/{family_id}/social-care-referrals", 201, json=body
            )
        self.tally[f"referred to social care: {referral.source}"] += 1
        decided_on = referral.decided_on.isoformat() if referral.decided_on else made["referred_on"]
        await self.gateway.call(
            self.council, "POST", f"/social-care-referrals/{made['id']}/outcome",
            json={"outcome": referral.outcome, "decided_on": decided_on},
        )  # fmt: skip
        self.tally[f"social care decided: {referral.outcome}"] += 1

    async def _front_door_referral(self, family_id: str, assessment_id: str) -> dict[str, Any] | None:
        return next((r for r in await self._referrals(family_id) if r["assessment_id"] == assessment_id), None)


def summary(loader: Loader, seconds: float, seed: int, as_of: date) -> str:
    tally, gateway = loader.tally, loader.gateway

    def line(label: str, whole: int = 0) -> str:
        share = f"  ({tally[label] / whole:.1%})" if whole else ""
        return f"  {label:<44}{tally[label]:>9,}{share}"

    closed = tally["plans closed"]
    referred = sum(tally[f"referred to social care: {source}"] for source in REFERRAL_SOURCES)
    lines = [
        f"Loaded {loader.families_done:,} families (seed {seed}, stories up to {as_of}) in {seconds:.0f}s: "
        f"{gateway.requests:,} requests, {gateway.requests / max(seconds, 1e-9):.0f} a second, "
        f"{gateway.throttled:,} answered 429 and retried",
        line("families registered"),
        *(line(f"families registered by {kind}") for kind in REFERRERS),
        line("requests for support"),
        *(line(f"front door: {outcome}", tally["requests for support"]) for outcome in FRONT_DOOR_OUTCOMES),
        line("early help assessments"),
        *(line(f"next step: {step}", tally["early help assessments"]) for step in NO_PLAN_NEXT_STEPS),
        line("plans opened"),
        line("drafts discarded"),
        line("plans activated"),
        line("contacts recorded"),
        *(line(f"contacts: {kind}", tally["contacts recorded"]) for kind in CONTACT_KINDS),
        line("reviews recorded"),
        line("plans closed"),
        *(line(f"closed: {reason}", closed) for reason in CLOSE_REASONS),
        line("stepped down"),
        line("re-referred", closed - tally[f"closed: {STEPPED_UP}"]),  # within 6 months, of closures not stepped up
        line("plans reopened", closed - tally[f"closed: {STEPPED_UP}"]),  # on the day of the load
        f"  {'referred to social care':<44}{referred:>9,}",
        *(line(f"referred to social care: {source}", referred) for source in REFERRAL_SOURCES),
        *(line(f"social care decided: {outcome}", referred) for outcome in REFERRAL_OUTCOMES),
        line("plans active"),
        line("plans in draft"),
        line("supporting families: enrolled"),
        line("supporting families: claimed", tally["supporting families: enrolled"]),
        *(
            line(f"supporting families claimed: {route}", tally["supporting families: claimed"])
            for route in (SIGNIFICANT_AND_SUSTAINED, CONTINUOUS_EMPLOYMENT)
        ),
        line("supporting families: awaiting a claim"),
    ]
    return "\n".join(lines)


async def report_progress(loader: Loader, total: int, started: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        seconds = time.monotonic() - started
        print(
            f"{loader.families_done:,}/{total:,} families, {loader.gateway.requests:,} requests "
            f"({loader.gateway.requests / seconds:.0f}/s), {loader.gateway.throttled:,} answered 429",
            flush=True,
        )


async def load(gateway_url: str, credentials: list[dict[str, str]], families: int, seed: int, concurrency: int) -> str:
    """Tell `families` stories to the gateway; the summary of what was done."""
    clients = {c["type"]: Client(c["type"], c["organisation"], c["client_id"], c["client_secret"]) for c in credentials}
    missing = {"council", "school", "health"} - set(clients)
    if missing:
        raise LoadFailed(f"the demo credentials name no {', '.join(sorted(missing))} client")
    as_of, started = as_of_today(), time.monotonic()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60.0, limits=limits) as http:
        gateway = Gateway(http, concurrency)
        for client in clients.values():  # each organisation's id is in its token
            await gateway.bearer(client)
        plan = await gateway.call(clients["council"], "GET", "/supporting-families/outcomes-plan")
        loader = Loader(gateway, clients, plan, as_of)
        stories: Iterator[Story] = (plan_story(seed, index, as_of) for index in range(families))

        async def work() -> None:
            for story in stories:  # shared: each story is taken by one worker
                await loader.family(story)

        print(f"Loading {families:,} families (seed {seed}) into {gateway_url}, {concurrency} requests at a time…",
              flush=True)  # fmt: skip
        progress = asyncio.create_task(report_progress(loader, families, started))
        # Twice as many workers as request slots: a family waiting for its plan to open holds no slot.
        workers = [asyncio.create_task(work()) for _ in range(2 * concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in [progress, *workers]:
                task.cancel()
            await asyncio.gather(progress, *workers, return_exceptions=True)
    return summary(loader, time.monotonic() - started, seed, as_of)
