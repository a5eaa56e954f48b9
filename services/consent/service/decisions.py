"""Access decisions, from this service's grants, overrides and relations; and who holds a basis to act."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.access.authorise import refused
from services.access.decisions import COORDINATOR, Basis
from services.access.rule import Decision, GrantTerms, OverrideTerms, Question, RelationTerms, decide
from services.consent import repository
from services.consent.events import SOURCE
from services.consent.models import SafeguardingOverride
from services.consent.schemas import AccessQuestionIn
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.problems import Forbidden


def _override_terms(override: SafeguardingOverride) -> OverrideTerms:
    return OverrideTerms(
        id=override.id,
        family_id=override.family_id,
        organisation_id=override.organisation_id,
        practitioner=override.practitioner,
        opened_at=override.opened_at,
        expires_at=override.expires_at,
        closed_at=override.closed_at,
    )


async def decide_access(session: AsyncSession, principal: Principal, body: AccessQuestionIn) -> Decision:
    """Permit or deny a read of a record, with the basis or the reason: about the caller's own organisation.

    Only a platform service asks about another (notifications, for a subscriber). Who wrote the record is
    known to the service that keeps it and decided there; here the team, the allocation, overrides, grants
    and the coordinator's public task are decided, from this service's own records, never from the question.
    """
    asks_for_another = (
        body.organisation_id not in (None, principal.organisation_id)
        or body.organisation_type not in (None, principal.organisation_type)
        or body.practitioner not in (None, principal.subject)
    )
    if asks_for_another and "service" not in principal.scopes:
        raise Forbidden("Only a platform service asks about another organisation or practitioner.")
    # Asked about a subscriber, its standing as coordinator is not the asking service's to tell.
    coordinator = not asks_for_another and COORDINATOR in principal.organisation_roles
    question = Question(
        family_id=body.family_id,
        organisation_id=body.organisation_id or principal.organisation_id,
        organisation_type=body.organisation_type or principal.organisation_type,
        practitioner=body.practitioner or principal.subject,
        category=body.category,
        purpose=body.purpose,
        coordinator=coordinator,
    )
    relations = [r for r in await _relations(session, body.family_id) if r.kind in _RECORD_RELATIONS]
    return await _decide(session, question, relations)


# A relation that opens the family's records written by others: authorship opens only one's own
# records, and the service that keeps them decides it.
_RECORD_RELATIONS = frozenset({"team", "allocation"})
FAMILY_CATEGORIES = ("assessment", "plan")


async def _decide(session: AsyncSession, question: Question, relations: Sequence[RelationTerms]) -> Decision:
    grants = [GrantTerms.of(grant) for grant in await repository.grants_of_family(session, question.family_id)]
    overrides = [_override_terms(o) for o in await repository.overrides_of_family(session, question.family_id)]
    return decide(question, grants, overrides, now(), relations)


async def _relations(session: AsyncSession, family_id: str) -> list[RelationTerms]:
    return [
        RelationTerms(
            family_id=relation.family_id,
            organisation_id=relation.organisation_id,
            kind=relation.kind,
            categories=relation.categories,
            since=relation.since,
            ended_at=relation.ended_at,
        )
        for relation in await repository.relations_of_family(session, family_id)
        if relation.kind != "lead"  # the lead's organisation is on the team: lead adds only who may withdraw
    ]


async def holds_basis(session: AsyncSession, principal: Principal, family_id: str, category: str) -> Decision:
    """Whether the caller's organisation holds a basis for the family's records of a category, as a whole.

    What the caller may share, answer requests for, and record agreements of: every standing it has with the
    family counts, its own authorship included.
    """
    question = Question(
        family_id=family_id,
        organisation_id=principal.organisation_id,
        organisation_type=principal.organisation_type,
        practitioner=principal.subject,
        category=category,
        purpose="early-help",
        coordinator=COORDINATOR in principal.organisation_roles,
    )
    return await _decide(session, question, await _relations(session, family_id))


async def basis_or_refuse(
    session: AsyncSession,
    principal: Principal,
    family_id: str,
    categories: Sequence[str],
    *,
    any_category: bool = False,
) -> Basis:
    """The basis for every category named (or for any of them), else `AccessRefused`, the refusal audited."""
    decisions = [await holds_basis(session, principal, family_id, category) for category in sorted(set(categories))]
    held = [d for d in decisions if d.permit and d.basis is not None and d.reference is not None]
    if held and (any_category or len(held) == len(decisions)):
        return Basis(str(held[0].basis), str(held[0].reference))
    raise refused(
        principal,
        "Your organisation holds no basis for this family's records"
        + ("." if any_category or not held else " of every category named."),
        source=SOURCE,
        action="share" if not any_category else "read",
        resource_type="family",
        resource_id=family_id,
        family_id=family_id,
    )


async def may_withdraw(session: AsyncSession, principal: Principal, family_id: str, recorded_by: str) -> Basis | None:
    """The organisation that recorded it, the lead professional's organisation, or a coordinator withdraws."""
    if principal.organisation_id == recorded_by:
        return Basis("authorship", principal.organisation_id)
    if COORDINATOR in principal.organisation_roles:
        return Basis("public_task", principal.organisation_id)
    leads = await repository.relations_of_family(session, family_id)
    if any(
        relation.kind == "lead" and relation.organisation_id == principal.organisation_id and relation.ended_at is None
        for relation in leads
    ):
        return Basis("team", principal.organisation_id)
    return None


def not_yours_to_withdraw() -> Forbidden:
    return Forbidden(
        "Only the organisation that recorded it, the lead professional's organisation or an early help "
        "coordinator may withdraw it."
    )


async def access_revision(session: AsyncSession) -> int:
    return await repository.access_revision(session)
