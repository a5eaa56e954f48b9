"""A family plan's change matrix scores over time, drawn as a small line chart for staff pages.

The chart is an inline SVG rendered on the server, so the page needs no JavaScript and works
under the gateway's strict Content-Security-Policy: there is no script, and no ``style``
attribute or element (``style-src 'self'`` blocks inline styles), only presentation
attributes. It is accessible through its ``<title>`` and a ``<desc>`` that reads the data out
in words, and it is deterministic: the same goals give the same string.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

WIDTH = 640
LEFT, RIGHT, TOP, BOTTOM = 48, 592, 16, 200  # the plot area; dates are labelled below BOTTOM
LEGEND_TOP, LEGEND_ROW = BOTTOM + 44, 22
MAX_DATE_LABELS = 8  # more would overlap, so label every n-th review
LABEL_LENGTH = 40
TITLE = "Change matrix scores over time"
NO_REVIEWS = "No reviews recorded yet."
# GOV.UK Design System colours, each at least 3:1 against white (WCAG 1.4.11). GOV.UK orange
# (#f47738) is only 2.8:1, so brown takes its place.
COLOURS = ("#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#b58840", "#5694ca", "#912b88", "#28a197")
# A dash pattern per goal as well, so colour is not the only cue (WCAG 1.4.1). Five patterns
# against eight colours: the first forty goals all differ.
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4")


@dataclass(frozen=True)
class GoalScores:
    """One goal of a plan and the change matrix scores (1 to 10) it was given at reviews."""

    label: str
    scores: list[tuple[date, int]]


def change_matrix_svg(goals: Sequence[GoalScores], *, title_id: str = "change-matrix-title") -> Markup:
    """Render the goals' scores as an inline SVG line chart, one line per goal, dates in order."""
    for goal in goals:
        if any(not 1 <= score <= 10 for _, score in goal.scores):
            raise ValueError(f"change matrix scores run from 1 to 10, got {goal.scores!r}")
    dates = sorted({held_on for goal in goals for held_on, _ in goal.scores})
    if not dates:
        return _svg(title_id, 60, NO_REVIEWS, [svg_text(WIDTH / 2, 36, NO_REVIEWS, "middle")])
    x_of = {held_on: _x(index, len(dates)) for index, held_on in enumerate(dates)}
    parts = _axes(dates, x_of)
    sentences = [f"Scores from 1 to 10 at {_reviews(len(dates))}, {dates[0]} to {dates[-1]}."]
    for number, goal in enumerate(goals, start=1):
        colour, dash = COLOURS[(number - 1) % len(COLOURS)], DASHES[(number - 1) % len(DASHES)]
        stroke = Markup('stroke="{}" stroke-width="2"').format(colour)
        if dash:
            stroke += Markup(' stroke-dasharray="{}"').format(dash)
        points = [(x_of[held_on], _y(score)) for held_on, score in sorted(goal.scores)]
        if len(points) >= 2:
            coordinates = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(Markup('<polyline points="{}" fill="none" {}/>').format(coordinates, stroke))
        parts += [Markup('<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>').format(x, y, colour) for x, y in points]
        row = LEGEND_TOP + (number - 1) * LEGEND_ROW
        parts += [
            Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" {}/>').format(LEFT, row, LEFT + 28, row, stroke),
            Markup('<circle cx="{}" cy="{}" r="4" fill="{}"/>').format(LEFT + 14, row, colour),
            svg_text(LEFT + 36, row + 4, f"Goal {number}: {_shorten(goal.label)}"),
        ]
        said = ", ".join(f"{score} on {held_on}" for held_on, score in sorted(goal.scores)) or "no scores yet"
        sentences.append(f"Goal {number}, {goal.label}: {said}.")
    return _svg(title_id, LEGEND_TOP + len(goals) * LEGEND_ROW, " ".join(sentences), parts)


def _svg(title_id: str, height: int, desc: str, parts: list[Markup]) -> Markup:
    """Wrap the drawing in an accessible svg element. Markup.format escapes every argument that is not Markup."""
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img"'
        ' aria-labelledby="{id}" aria-describedby="{id}-desc">'
        '<title id="{id}">{title}</title><desc id="{id}-desc">{desc}</desc>{parts}</svg>'
    ).format(width=WIDTH, height=height, id=title_id, title=TITLE, desc=desc, parts=Markup("").join(parts))


def _axes(dates: list[date], x_of: dict[date, float]) -> list[Markup]:
    """Gridlines and labels for every score, and a label under every n-th review date."""
    parts: list[Markup] = []
    for score in range(1, 11):
        line = Markup('<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#b1b4b6" stroke-width="1"/>')
        parts += [line.format(LEFT, _y(score), RIGHT, _y(score)), svg_text(LEFT - 8, _y(score) + 4, str(score), "end")]
    step = -(-len(dates) // MAX_DATE_LABELS)  # ceiling division
    parts += [svg_text(x_of[held_on], BOTTOM + 22, _day(held_on), "middle") for held_on in dates[::step]]
    return parts


def svg_text(x: float, y: float, content: str, anchor: str = "start") -> Markup:
    """A text element in the page's font, GOV.UK text colour; ``content`` is escaped. The bar chart's too."""
    return Markup(
        '<text x="{:.1f}" y="{:.1f}" text-anchor="{}" font-family="inherit" font-size="13" fill="#0b0c0c">{}</text>'
    ).format(x, y, anchor, content)


def _x(index: int, count: int) -> float:
    """Reviews are spaced evenly by their order, not by the time between them."""
    return (LEFT + RIGHT) / 2 if count == 1 else LEFT + 20 + index * (RIGHT - LEFT - 40) / (count - 1)


def _y(score: int) -> float:
    """Higher scores sit higher on the chart, so nearer the top of the SVG."""
    return TOP + (10 - score) * (BOTTOM - TOP) / 9


def _day(held_on: date) -> str:
    """A date as staff read it, "10 Jan 2026", without platform-specific strftime flags."""
    return f"{held_on.day} {held_on:%b %Y}"


def _reviews(count: int) -> str:
    return "1 review" if count == 1 else f"{count} reviews"


def _shorten(label: str) -> str:
    return label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1].rstrip() + "…"
