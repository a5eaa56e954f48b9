"""Labelled values drawn as a horizontal bar chart, for the staff pages' measures.

Drawn as `chart.py` draws the change matrix, for the same reasons: an inline SVG rendered on the server, with
presentation attributes only (the Content-Security-Policy allows no inline style), a ``<title>`` and a
``<desc>`` that reads every value out, and the same string for the same values. The bars lie flat because
the labels are long ("Stepped down to universal services"): a label is cut short in the drawing only, the
page's table and the description give it whole.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from gateway.frontend.chart import svg_text

WIDTH = 640
LABEL_RIGHT = 244  # labels end here, right-aligned against the bars
BAR_LEFT, BAR_RIGHT = 252, 560  # the longest bar; its value is written after it, within WIDTH
TOP, ROW, BAR_HEIGHT = 8, 32, 20
LABEL_LENGTH = 36  # about what fits left of the bars at 13px
BAR_COLOUR = "#1d70b8"  # GOV.UK blue, 5.2:1 against white (WCAG 1.4.11)
AXIS_COLOUR = "#0b0c0c"
NOTHING = "Nothing to count in this period."


@dataclass(frozen=True)
class Bar:
    """One labelled value, and how it is written beside its bar ("12", "45%")."""

    label: str
    value: float
    shown: str


def bar_chart_svg(
    title: str, bars: Sequence[Bar], *, title_id: str, maximum: float | None = None, empty: str = NOTHING
) -> Markup:
    """One bar a value, in the order given, each as long as its value against `maximum` (the largest value when
    left out, so a share of 1 can fill the chart or not as the caller means)."""
    if any(bar.value < 0 for bar in bars):
        raise ValueError(f"a bar chart draws values of 0 or more, got {[bar.value for bar in bars]!r}")
    if not bars:
        return _svg(title_id, title, 48, empty, [svg_text(WIDTH / 2, 28, empty, "middle")])
    scale = maximum if maximum is not None else max(bar.value for bar in bars)
    if any(bar.value > scale for bar in bars):
        raise ValueError(f"a value is above the chart's maximum {scale}")
    height = TOP * 2 + len(bars) * ROW
    parts = [
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{3}" stroke-width="1"/>').format(
            BAR_LEFT, TOP, height - TOP, AXIS_COLOUR
        )
    ]
    for row, bar in enumerate(bars):
        top = TOP + row * ROW + (ROW - BAR_HEIGHT) / 2
        middle = top + BAR_HEIGHT / 2 + 4  # a 13px text's baseline, centred on the bar
        length = (BAR_RIGHT - BAR_LEFT) * bar.value / scale if scale else 0.0
        if length:  # a value of 0 has no bar, only its figure against the axis
            parts.append(
                Markup('<rect x="{}" y="{:.1f}" width="{:.1f}" height="{}" fill="{}"/>').format(
                    BAR_LEFT, top, length, BAR_HEIGHT, BAR_COLOUR
                )
            )
        parts += [svg_text(LABEL_RIGHT, middle, _shorten(bar.label), "end"),
                  svg_text(BAR_LEFT + length + 6, middle, bar.shown)]  # fmt: skip
    described = " ".join(f"{bar.label}: {bar.shown}." for bar in bars)
    return _svg(title_id, title, height, described, parts)


def _svg(title_id: str, title: str, height: int, desc: str, parts: list[Markup]) -> Markup:
    """The accessible svg element, named by its title and described by its desc; every argument is escaped."""
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img"'
        ' aria-labelledby="{id}" aria-describedby="{id}-desc">'
        '<title id="{id}">{title}</title><desc id="{id}-desc">{desc}</desc>{parts}</svg>'
    ).format(width=WIDTH, height=height, id=title_id, title=title, desc=desc, parts=Markup("").join(parts))


def _shorten(label: str) -> str:
    return label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1].rstrip() + "…"
