"""The events one service emits: each type with its payload model, written into the outbox by payload."""

from collections.abc import Mapping

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.events.envelope import new_event
from services.kit.events.outbox import record_event


class EventCatalogue:
    def __init__(self, source: str, payloads: dict[str, type[BaseModel]]) -> None:
        self.source = source
        self.payloads = payloads

    def emit(
        self,
        session: AsyncSession,
        payload: BaseModel,
        *,
        subject: str,
        extensions: Mapping[str, str | None] | None = None,
    ) -> None:
        """Write the event of `payload` into the transaction of the change it describes.

        Its type is the one the catalogue names for the payload's model; a payload
        with an `organisation_id` names that organisation in the envelope.
        """
        event_type = next(name for name, model in self.payloads.items() if type(payload) is model)
        record_event(
            session,
            new_event(
                source=self.source,
                type=event_type,
                subject=subject,
                data=payload.model_dump(mode="json"),
                extensions=extensions,
                organisation_id=getattr(payload, "organisation_id", None),
            ),
        )
