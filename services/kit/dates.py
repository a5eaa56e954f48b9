"""Days and moments as the API takes them: ISO 8601 strings, as the OpenAPI document says.

pydantic would also read a number, or a string of digits, as a Unix time; the
schema promises `format: date` or `format: date-time`, and a partner's client
that sent `0` has a bug to be told of, not 1 January 1970 recorded.
"""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def _written_as_a_day(value: object) -> object:
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError("a day is written YYYY-MM-DD")


def _written_as_a_moment(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and not _NUMBER.fullmatch(value)):
        return value
    raise ValueError("a moment is written in ISO 8601, e.g. 2026-01-31T09:30:00Z")


Day = Annotated[date, BeforeValidator(_written_as_a_day)]
Moment = Annotated[datetime, BeforeValidator(_written_as_a_moment)]
AwareMoment = Annotated[AwareDatetime, BeforeValidator(_written_as_a_moment)]
