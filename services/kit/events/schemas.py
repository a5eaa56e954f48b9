"""The JSON Schema of each event's `data`, exported from the payload models to `schemas/events/`.

Integrators read the files; a test compares them with the code so the two never drift.
"""

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

EVENT_SCHEMAS_DIR = Path(__file__).resolve().parents[3] / "schemas" / "events"


def event_schema(event_type: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:graduated-pathway:event:{event_type}",
        **schema,
    }


def schema_file(event_type: str) -> Path:
    return EVENT_SCHEMAS_DIR / f"{event_type}.json"


def render(event_type: str, model: type[BaseModel]) -> str:
    return json.dumps(event_schema(event_type, model), indent=2, ensure_ascii=False) + "\n"


def write_event_schemas(payloads: dict[str, type[BaseModel]]) -> None:
    EVENT_SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    for event_type, model in payloads.items():
        schema_file(event_type).write_text(render(event_type, model))
        print(f"wrote {schema_file(event_type)}")
