"""The measures a manager's dashboard shows: which reports it asks for, and each report's answer as a chart's bars
and the table beside it.

The reports are the services' (`/reports/...`), asked for as the signed-in manager, so they are as wide as the
manager's organisation may see; this module only chooses among their figures and words them. A code the words
below do not name is shown as the service gave it, never dropped.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from gateway.frontend.bar_chart import Bar
from gateway.frontend.plan_words import CLOSED_AS
from gateway.frontend.questions import format_date

NOT_RECORDED = "not_recorded"  # the reports' group for a plan without the value


@dataclass(frozen=True)
class Report:
    """A report the dashboard reads: its path, and whether it counts a period or a day. Every one takes
    `locality=`: the plan service's reports and the assessment service's front door alike."""

    path: str
    period: bool = True  # `from` and `to`; otherwise the report counts one day
    on_day: bool = False  # `on`: the period's last day


REPORTS = {
    "front-door": Report("/reports/front-door"),
    "open-work": Report("/reports/open-work", period=False, on_day=True),
    "assessments-started": Report("/reports/assessments-started"),
    "re-referrals": Report("/reports/re-referrals"),
    "plan-duration": Report("/reports/plan-duration"),
    "reviews-overdue": Report("/reports/reviews-overdue", period=False),  # today's, whatever the period
    "distance-travelled": Report("/reports/distance-travelled"),
    "closures": Report("/reports/closures"),
    "step-down-outcomes": Report("/reports/step-down-outcomes"),
}


def report_params(report: Report, start: date, end: date, locality: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if report.period:
        params |= {"from": start.isoformat(), "to": end.isoformat()}
    if report.on_day:
        params["on"] = end.isoformat()
    if locality:
        params["locality"] = locality
    return params


@dataclass(frozen=True)
class Figure:
    """One chart: its bars, and the same figures as a table (with any count the bars leave out)."""

    key: str  # the report's name: the chart's ids and its CSV link
    heading: str
    bars: list[Bar]
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    definition: str
    notes: list[str] = field(default_factory=list)
    maximum: float | None = None  # 1 for shares, so that 50% fills half the chart


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    figure: str
    detail: str


FRONT_DOOR_OUTCOMES = {
    "early_help_assessment": "Early help assessment",
    "multi_agency_panel": "Multi-agency panel",
    "refer_to_social_care": "Referred to social care",
    "signpost": "Signposted to universal services",
    "no_further_action": "No further action",
}
AGENCIES = {
    "school": "Schools",
    "health": "Health",
    "council": "Council",
    "police": "Police",
    "voluntary": "Voluntary groups",
    "social_care": "Children's social care",
}
RE_REFERRALS = {
    "early_help_within_6_months": "Early help again within 6 months",
    "early_help_within_12_months": "Early help again within 12 months",
    "social_care_within_6_weeks": "Referred to social care within 6 weeks",
    "social_care_within_6_months": "Referred to social care within 6 months",
}
DURATIONS = {
    "under_3_months": "Under 3 months",
    "from_3_to_6_months": "3 to 6 months",
    "from_6_to_12_months": "6 to 12 months",
    "over_12_months": "Over 12 months",
}
MOVEMENTS = {"improved": "Improved", "same": "Stayed the same", "worse": "Went back"}
STEP_DOWN_OUTCOMES = CLOSED_AS | {"open": "Plan still open"}


def share(value: float | None) -> str:
    return "none counted" if value is None else f"{value:.0%}"


def _counted(label: str, count: int) -> tuple[Bar, tuple[str, str]]:
    return Bar(label, count, str(count)), (label, str(count))


def _counts(key: str, heading: str, columns: tuple[str, str], counted: list[tuple[str, int]], definition: str,
            notes: list[str] | None = None) -> Figure:  # fmt: skip
    pairs = [_counted(label, count) for label, count in counted]
    return Figure(key, heading, [bar for bar, _ in pairs], columns, [row for _, row in pairs], definition,
                  notes or [])  # fmt: skip


def front_door(report: dict[str, Any]) -> Figure:
    outcomes = [row for row in report["outcomes"] if row["group"] is None]
    return _counts(
        "front-door",
        "Front door decisions by outcome",
        ("Outcome", "Decisions"),
        [(FRONT_DOOR_OUTCOMES.get(row["outcome"], row["outcome"]), row["decisions"]) for row in outcomes],
        report["definition"],
        [f"{report['within_10_working_days']} of {report['decided']} decided within 10 working days of the request "
         f"({share(report['share_within_10_working_days'])})."],
    )  # fmt: skip


def assessments_started(report: dict[str, Any]) -> Figure:
    return _counts(
        "assessments-started",
        "Early help assessments started by agency",
        ("Agency", "Assessments started"),
        [(AGENCIES.get(row["organisation_type"], row["organisation_type"]), row["started"])
         for row in report["by_organisation_type"]],
        "Early help assessments started in the period, by the kind of organisation that started them.",
        [f"{report['total']} started in all."],
    )  # fmt: skip


def re_referrals(report: dict[str, Any]) -> Figure:
    measures = [measure for measure in report["measures"] if measure["group"] is None]
    notes = [f"{report['closed']} episodes closed, and {report['stepped_up']} stepped up to social care, left out."]
    if not all(measure["complete"] for measure in measures):
        notes.append("Some episodes closed too recently for every window to have passed: those shares may yet rise.")
    return Figure(
        "re-referrals",
        "Re-referrals after early help closed",
        [Bar(RE_REFERRALS.get(m["measure"], m["measure"]), m["share"] or 0, share(m["share"])) for m in measures],
        ("Measure", "Episodes", "Of episodes closed", "Share"),
        [(RE_REFERRALS.get(m["measure"], m["measure"]), str(m["numerator"]), str(m["denominator"]), share(m["share"]))
         for m in measures],
        report["definition"],
        notes,
        maximum=1,
    )  # fmt: skip


def plan_duration(report: dict[str, Any]) -> Figure:
    everyone = next((row for row in report["rows"] if row["group"] is None and row["close_reason"] is None), None)
    median = report["median_days"]
    return _counts(
        "plan-duration",
        "How long closed episodes lasted",
        ("Length", "Episodes"),
        [(label, everyone[band]) for band, label in DURATIONS.items()] if everyone else [],
        report["definition"],
        [f"{report['closed']} episodes closed; median {median:g} days." if median is not None
         else "No episode closed in the period."],
    )  # fmt: skip


def reviews_overdue(report: dict[str, Any], names: dict[str, str]) -> Figure:
    def agency(group: str) -> str:
        return "No lead agency recorded" if group == NOT_RECORDED else names.get(group, "Another organisation")

    return Figure(
        "reviews-overdue",
        "Reviews overdue by lead agency",
        [Bar(agency(row["group"]), row["overdue"], str(row["overdue"])) for row in report["rows"]],
        ("Lead agency", "Reviews overdue", "Active plans"),
        [(agency(row["group"]), str(row["overdue"]), str(row["active"])) for row in report["rows"]],
        report["definition"],
        [f"Today, {report['overdue']} of {report['active']} active plans ({share(report['share'])}), whatever the "
         "period chosen." if report["active"] else "No active plans today, whatever the period chosen."],
    )  # fmt: skip


def distance_travelled(report: dict[str, Any]) -> Figure:
    return _counts(
        "distance-travelled",
        "Progress on the change matrix",
        ("Goals that", "Goals"),
        [(label, report[movement]) for movement, label in MOVEMENTS.items()] if report["goals"] else [],
        report["definition"],
        [f"{report['goals']} goals on {report['plans']} plans reviewed twice or more."],
    )  # fmt: skip


def closures(report: dict[str, Any]) -> Figure:
    return _counts(
        "closures",
        "Plans closed by reason",
        ("Reason", "Episodes closed"),
        [(CLOSED_AS.get(row["reason"], row["reason"]), row["plans"]) for row in report["by_reason"]],
        "Episodes of plans closed in the period, by the reason recorded at closure.",
        [f"{report['closed']} closed; {share(report['share_outcomes_met'])} with outcomes met." if report["closed"]
         else "None closed in the period."],
    )  # fmt: skip


def step_down_outcomes(report: dict[str, Any]) -> Figure:
    back = next((m for m in report["measures"] if m["group"] is None), None)
    notes = [f"{report['stepped_down']} families stepped down from social care in the period."]
    if back is not None and back["denominator"]:
        notes.append(f"{back['numerator']} of {back['denominator']} referred to social care again within 6 months "
                     f"({share(back['share'])}).")  # fmt: skip
    return _counts(
        "step-down-outcomes",
        "Step-down from social care: how the plans stand",
        ("Outcome", "Plans"),
        [(STEP_DOWN_OUTCOMES.get(row["outcome"], row["outcome"]), row["plans"])
         for row in report["outcomes"] if row["group"] is None],
        report["definition"],
        notes,
    )  # fmt: skip


def headlines(open_work: dict[str, Any], front: dict[str, Any]) -> list[Headline]:
    return [
        Headline("open-work", "Open plans", str(open_work["plans"]), f"on {format_date(open_work['on'])}"),
        Headline("open-work", "Children supported", str(open_work["children"]),
                 f"in {open_work['families']} {'family' if open_work['families'] == 1 else 'families'}"),
        Headline("front-door", "Front door decisions within 10 working days",
                 share(front["share_within_10_working_days"]),
                 f"{front['within_10_working_days']} of {front['decided']}"),
    ]  # fmt: skip
