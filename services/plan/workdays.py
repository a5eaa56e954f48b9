"""Working days, for the councils' 10-working-day measure from request to plan."""

from datetime import date, timedelta


def working_days_between(start: date, end: date) -> int:
    """Monday-to-Friday days after `start` up to and including `end`: a plan the next working day is 1.

    Bank holidays are not counted out: they differ between the nations of the UK
    and from council to council, and no calendar of them ships with the project.
    """
    if end <= start:
        return 0
    whole_weeks, rest = divmod((end - start).days, 7)
    tail = (start + timedelta(days=offset) for offset in range(1, rest + 1))
    return whole_weeks * 5 + sum(1 for day in tail if day.weekday() < 5)
