"""`by=`: the one breakdown a report is asked for, among those it can give.

A report names the breakdowns it supports; any other is refused with a 400
problem naming them, so a caller learns what to ask for instead of getting
an answer that silently ignores the parameter.
"""

from collections.abc import Collection

from services.kit.problems import BadRequest


class UnsupportedBreakdown(BadRequest):
    slug, title = "unsupported-breakdown", "The report cannot be broken down that way"


def breakdown(by: str | None, supported: Collection[str]) -> str | None:
    """`by` when the report supports it (None: no breakdown asked for); a 400 naming the supported ones otherwise."""
    if by is None or by in supported:
        return by
    names = ", ".join(sorted(supported)) or "none"
    raise UnsupportedBreakdown(f"This report breaks down by: {names}.", supported=sorted(supported))
