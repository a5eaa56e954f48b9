"""The reports' read model of families: kept from the assessment service's reporting profile.

Reports break plans down by locality, age band, sex and ethnicity, which only the assessment service holds;
events carry none of them. When a plan opens or reopens for a family (`plan.created`, `plan.reopened`), or an
assessment of it is started (`assessment.created`), the family's profile is read over HTTP, as this service, and
replaces what was kept: the children's age bands are those on the day of the latest of these, and a family that
moved is counted in its new locality. A call that fails
leaves the event to be tried again, as every consumer failure is (an outage of the assessment service
delays the profile and loses nothing).

Families whose plans or assessments came before these events were read for the reports (a council's records
from before the upgrade, or an event given up on) have no profile: `fill_missing_profiles` reads theirs, at
start and every hour, so the reports place every family without an operator's step.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.db import Database
from services.kit.tasks import stop_task
from services.plan import repository
from services.plan.clients import AssessmentFindings, ReportingProfile, UnknownFamily
from services.plan.models import ReportingChild, ReportingFamily

logger = logging.getLogger(__name__)

FILL_EVERY_SECONDS = 3600.0  # how often to look for families without a profile once none is left
RETRY_SECONDS = 60.0  # after the assessment service or the database was away
BATCH = 100


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


async def fill_missing_profiles(database: Database, findings: AssessmentFindings) -> int:
    """Read and keep the profile of every family with a plan or assessment and none kept; how many were kept.

    Each family's children's age bands are worked out on the day of its latest plan opening or assessment start,
    as the events would have had them. A profile kept meanwhile by an event is left as it is (it is the newer), and
    a family the assessment service does not know is passed over until the next run.
    """
    passed_over: set[str] = set()
    kept = 0
    while True:
        async with database.sessionmaker() as session:
            missing = await repository.unprofiled_families(session, BATCH, passed_over)
        if not missing:
            return kept
        for family_id, on in missing:
            try:
                profile = await findings.reporting_profile(family_id, on)
            except UnknownFamily:
                passed_over.add(family_id)
                continue
            async with database.sessionmaker() as session, session.begin():
                if not await repository.profiled(session, family_id):
                    await keep_profile(session, profile)
                    kept += 1


async def _keep_filling(database: Database, findings: AssessmentFindings) -> None:
    while True:
        try:
            kept = await fill_missing_profiles(database, findings)
        except Exception as error:  # noqa: BLE001 (the assessment service or the database away: try again later)
            logger.warning("reporting profiles not filled yet", extra={"error": type(error).__name__})
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if kept:
            logger.info("reporting profiles filled", extra={"families": kept})
        await asyncio.sleep(FILL_EVERY_SECONDS)


@asynccontextmanager
async def filling_missing_profiles(database: Database, findings: AssessmentFindings) -> AsyncIterator[None]:
    """`fill_missing_profiles` now and every `FILL_EVERY_SECONDS` while the context is open."""
    task = asyncio.create_task(_keep_filling(database, findings), name="reporting-profiles")
    try:
        yield
    finally:
        await stop_task(task)
