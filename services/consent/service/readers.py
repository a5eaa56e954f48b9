"""Who may read one grant or override now: what decides who hears of it by webhook."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import repository
from services.consent.schemas import ReaderQuestionIn
from services.consent.service.safeguarding_overrides import may_see_override
from services.consent.service.sharing_grants import may_see_grant
from services.kit.auth import Principal


async def may_read_record(session: AsyncSession, body: ReaderQuestionIn) -> bool:
    """Whether an organisation could read a grant or an override now, by the rule its own reads follow.

    Asked by the notifications service before it tells a subscriber of the record. A subscriber's standing
    as coordinator is not the asking service's to tell, so it counts for nothing here (as in `decide_access`).
    """
    reader = Principal(
        subject="-",
        organisation_id=body.organisation_id,
        organisation_type=body.organisation_type,
        scopes=frozenset(),
        token="",
    )
    if body.record == "consent":
        grant = await repository.grant(session, body.record_id)
        return grant is not None and may_see_grant(reader, grant)
    override = await repository.override(session, body.record_id)
    return override is not None and may_see_override(reader, override)
