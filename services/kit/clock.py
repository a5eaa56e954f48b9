"""The time now, always timezone-aware UTC: every stored timestamp is one."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
