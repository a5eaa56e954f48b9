"""How the rules ask the access policy about a family's records, and record what was done with them.

Every read goes through `authorise` (the access package's `authorise_and_audit`
with this service's category, purpose and refusal); a creation or change made
by the author is recorded with `record` on the basis of authorship.
"""

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import record_access
from services.access.authorise import authorise_and_audit
from services.access.decisions import AccessPolicy, Basis
from services.assessment.events import SOURCE
from services.kit.auth import Principal

CATEGORY = "assessment"
PURPOSE = "early-help"
REFUSAL = (
    "Your organisation has no basis to see this family's records: it did not write them, and the family "
    "has not agreed to share them with it."
)


async def authorise(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
    authors: Collection[str],
) -> Basis:
    """The caller's basis to see one of a family's records, audited; `AccessRefused` without one."""
    return await authorise_and_audit(
        session,
        policy,
        principal,
        source=SOURCE,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        family_id=family_id,
        category=CATEGORY,
        purpose=PURPOSE,
        authors=authors,
        refusal=REFUSAL,
    )


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
    basis: Basis,
) -> None:
    """The audit entry of something done on a basis already known (authorship, or the service's own)."""
    record_access(
        session,
        principal,
        source=SOURCE,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        family_id=family_id,
        basis=basis,
    )
