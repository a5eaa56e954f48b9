"""The one gate every read and change of a family's data passes: a basis or a refusal, and the audit entry."""

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.audit import record_access
from services.access.decisions import AccessPolicy, AccessRefused, Basis
from services.kit.auth import Principal
from services.kit.metrics import current_metrics


async def authorise_and_audit(
    session: AsyncSession,
    policy: AccessPolicy,
    principal: Principal,
    *,
    source: str,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
    category: str,
    purpose: str,
    authors: Collection[str],
    team: Collection[str] = (),
    refusal: str,
) -> Basis:
    """The one way a read or change of a family's data is let through: a basis, or `AccessRefused`; both audited.

    A permitted access is recorded in the request's own transaction (`record_access`), so there is none
    without its entry; a refusal is recorded with the basis `refused`, in a transaction of its own after
    the request's is rolled back.
    """
    basis = await policy.basis_for(
        session, principal, family_id=family_id, category=category, purpose=purpose, authors=authors, team=team
    )
    entry = {
        "source": source,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "family_id": family_id,
    }
    metrics = current_metrics()
    if basis is None:
        if metrics is not None:
            metrics.access_decisions.labels("refused", "none").inc()
        raise refused(principal, refusal, **entry)
    if metrics is not None:
        metrics.access_decisions.labels("permitted", basis.kind).inc()
    record_access(session, principal, basis=basis, **entry)
    return basis


def refused(
    principal: Principal,
    reason: str,
    *,
    source: str,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
) -> AccessRefused:
    """The refusal to raise, carrying its audit entry (basis `refused`), written after the request rolls back."""
    error = AccessRefused(reason)
    entry = {"source": source, "action": action, "resource_type": resource_type, "resource_id": resource_id}
    error.kept.append(lambda kept: record_access(kept, principal, basis=REFUSED, family_id=family_id, **entry))
    return error


# What the access log records of an access refused: no basis, and nothing behind it.
REFUSED = Basis("refused", "-")
