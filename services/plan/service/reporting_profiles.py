"""The reports' read model of families: kept from the assessment service's reporting profile.

Reports break plans down by locality, age band, sex and ethnicity, which only the assessment service holds;
events carry none of them. When a plan opens or reopens for a family (`plan.created`, `plan.reopened`), or an
assessment of it is started (`assessment.created`), the family's profile is read over HTTP, as this service, and
replaces what was kept: the children's age bands are those on the day of the latest of these, and a family that
moved is counted in its new locality. A call that fails
leaves the event to be tried again, as every consumer failure is (an outage of the assessment service
delays the profile and loses nothing).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.plan import repository
from services.plan.clients import ReportingProfile
from services.plan.models import ReportingChild, ReportingFamily


async def keep_profile(session: AsyncSession, profile: ReportingProfile) -> None:
    """The family's profile, in place of the one kept before."""
    family = ReportingFamily(
        family_id=profile.family_id,
        locality_code=profile.locality_code,
        locality_name=profile.locality_name,
        profiled_on=profile.on,
        refreshed_at=now(),
    )
    children = [
        ReportingChild(
            family_id=profile.family_id, position=position, age_band=c.age_band, sex=c.sex, ethnicity=c.ethnicity
        )
        for position, c in enumerate(profile.children)
    ]
    await repository.replace_reporting_profile(session, family, children)
