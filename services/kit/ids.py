"""Identifiers of new records: random UUIDs, so an id reveals neither order nor count."""

import uuid


def new_id() -> str:
    return str(uuid.uuid4())


# What an id in a path may hold: a UUID, or an API client's id (`pw_...`). Declared so that the
# OpenAPI document says it; anything else names no record, and is refused with 422 rather than looked up.
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
