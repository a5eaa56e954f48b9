"""A manager's dashboard: the councils' main measures for a period and a locality, as charts with their tables, and
each report's CSV as a download.

The reports are asked for together, as the signed-in manager, so that the page takes as long as the slowest of
them. The period is chosen with GOV.UK date inputs in a GET form, so a chosen view is a link that can be kept and
works without JavaScript.
"""

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.frontend import measures
from gateway.frontend.bar_chart import bar_chart_svg
from gateway.frontend.calls import StaffCalls
from gateway.frontend.pages import organisation_names
from gateway.frontend.questions import format_date, read_date
from gateway.frontend.sessions import SignedIn
from gateway.frontend.site import PREFIX, Calls, PageError, Staff, render
from gateway.scopes import StaffRole
from services.kit.db import SessionDep

router = APIRouter(prefix=f"{PREFIX}/dashboard", include_in_schema=False)

LOCALITIES = "/reports/localities"
CSV = "text/csv"


def _manager(staff: SignedIn) -> None:
    if not staff.holds(StaffRole.MANAGER):
        raise PageError(403, "You cannot see this", "The dashboard is for managers. Ask your administrator.")


def _today() -> date:
    return datetime.now(UTC).date()


def _a_year_before(day: date) -> date:
    """The first day of the twelve months that end on `day`: 4 December 2025 for 3 December 2026."""
    try:
        return day.replace(year=day.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February: a year before is 28 February
        return day.replace(year=day.year - 1, day=28) + timedelta(days=1)


async def _localities(calls: StaffCalls) -> list[dict[str, Any]]:
    """The council's localities, as the plan service lists them from the council's population file."""
    answer = await calls.get(LOCALITIES)
    return list(answer.get("localities") or []) if isinstance(answer, dict) else []


@dataclass
class Chosen:
    """The period and locality asked for, what was typed, and what is wrong with it."""

    start: date
    end: date
    locality: str | None
    typed: dict[str, dict[str, str]]
    errors: dict[str, str]


def _chosen(query: Any, localities: list[dict[str, Any]]) -> Chosen:
    """The period typed (the last twelve months when left out) and the locality selected, checked."""
    today = _today()
    from_parts, start, start_real = read_date(query, "from")
    to_parts, end, end_real = read_date(query, "to")
    locality = str(query.get("locality") or "").strip() or None
    errors: dict[str, str] = {}
    if not start_real:
        errors["from"] = "The start date must be a real date, like 1 4 2025."
    if not end_real:
        errors["to"] = "The end date must be a real date, like 31 3 2026."
    elif end is not None and end > today:
        errors["to"] = "The end date must be today or in the past."
    end = end if end_real and end is not None and end <= today else today
    start = start if start_real and start is not None else _a_year_before(end)
    if "from" not in errors and "to" not in errors and start > end:
        errors["from"] = "The start date must be the same as or before the end date."
    if locality is not None and locality not in {place["code"] for place in localities}:
        errors["locality"] = "Select a locality from the list."
    if not any(from_parts.values()):
        from_parts = _parts(start)
    if not any(to_parts.values()):
        to_parts = _parts(end)
    return Chosen(start, end, locality, {"from": from_parts, "to": to_parts}, errors)


def _parts(day: date) -> dict[str, str]:
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def _csv_link(key: str, chosen: Chosen) -> str:
    query = {"from": chosen.start.isoformat(), "to": chosen.end.isoformat()}
    if chosen.locality:
        query["locality"] = chosen.locality
    return f"{PREFIX}/dashboard/{key}.csv?{urlencode(query)}"


@router.get("")
async def dashboard_page(request: Request, calls: Calls, staff: Staff, session: SessionDep) -> Response:
    """The measures for the period and locality chosen; the form again, with what is wrong, for a bad choice."""
    _manager(staff)
    localities = await _localities(calls)
    chosen = _chosen(request.query_params, localities)
    context: dict[str, Any] = {
        "title": "Dashboard",
        "section": "dashboard",
        "localities": localities,
        "chosen": chosen,
        "errors": chosen.errors,
        "error_summary": [
            {"text": message, "href": f"#{name}-day" if name in ("from", "to") else f"#{name}"}
            for name, message in chosen.errors.items()
        ],
    }
    if chosen.errors:
        return render(request, "dashboard.html", context, 400)
    names = await organisation_names(session)
    asked = [
        calls.get(report.path, measures.report_params(report, chosen.start, chosen.end, chosen.locality))
        for report in measures.REPORTS.values()
    ]
    answers = dict(zip(measures.REPORTS, await asyncio.gather(*asked), strict=True))
    figures = [
        measures.front_door(answers["front-door"]),
        measures.assessments_started(answers["assessments-started"]),
        measures.closures(answers["closures"]),
        measures.plan_duration(answers["plan-duration"]),
        measures.reviews_overdue(answers["reviews-overdue"], names),
        measures.re_referrals(answers["re-referrals"]),
        measures.distance_travelled(answers["distance-travelled"]),
        measures.step_down_outcomes(answers["step-down-outcomes"]),
    ]
    charts = [
        (figure, bar_chart_svg(figure.heading, figure.bars, title_id=f"chart-{figure.key}", maximum=figure.maximum))
        for figure in figures
    ]
    place = next((p["name"] for p in localities if p["code"] == chosen.locality), None)
    period = f"{format_date(chosen.start.isoformat())} to {format_date(chosen.end.isoformat())}"
    return render(
        request,
        "dashboard.html",
        context
        | {
            "place": place,
            "period": period,
            "headlines": measures.headlines(answers["open-work"], answers["front-door"]),
            "charts": charts,
            "csv": {key: _csv_link(key, chosen) for key in measures.REPORTS},
        },
    )


def _iso(raw: str | None, name: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PageError(400, "Check the dates", f"The {name} date must be a date like 2026-03-31.") from None


@router.get("/{key}.csv")
async def report_csv(request: Request, key: str, calls: Calls, staff: Staff) -> Response:
    """One report's CSV, fetched as the manager and handed on as a download named for its period."""
    _manager(staff)
    report = measures.REPORTS.get(key)
    if report is None:
        raise PageError(404, "Page not found", "There is no such report on the dashboard.")
    query = request.query_params
    end = _iso(query.get("to"), "end") or _today()
    start = _iso(query.get("from"), "start") or _a_year_before(end)
    if start > end:
        raise PageError(400, "Check the dates", "The start date must be the same as or before the end date.")
    locality = query.get("locality") or None
    if locality is not None and locality not in {place["code"] for place in await _localities(calls)}:
        raise PageError(400, "Check the locality", "There is no such locality. Choose one from the dashboard.")
    text = await calls.text(report.path, measures.report_params(report, start, end, locality), CSV)
    name = f"{key}-{start.isoformat()}-to-{end.isoformat()}"
    if locality:
        name += "-" + re.sub(r"[^A-Za-z0-9_-]", "", locality)
    return Response(
        text,
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
