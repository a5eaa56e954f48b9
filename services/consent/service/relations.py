"""Organisations' standing with families, as the services that know it tell."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.consent import repository
from services.consent.models import FamilyRelation
from services.consent.schemas import RelationsIn
from services.kit.clock import now
from services.kit.ids import new_id


async def record_relations(session: AsyncSession, body: RelationsIn) -> None:
    """What a service tells from its own records: who wrote, who is on the team, who leads, who was allocated.

    Idempotent: told twice, nothing changes. With `replace`, the organisations named are all who hold the
    relation now, and it ends for the others (a team member removed).
    """
    at = now()
    held = {
        relation.organisation_id: relation
        for relation in await repository.relations_of_kind(session, body.family_id, body.kind)
    }
    for organisation_id in sorted(set(body.organisation_ids)):
        relation = held.get(organisation_id)
        if relation is None:
            added = FamilyRelation(
                id=new_id(),
                family_id=body.family_id,
                organisation_id=organisation_id,
                kind=body.kind,
                categories=sorted(set(body.categories)),
                since=at,
            )
            if await repository.relation_added(session, added):
                continue
            # Told at the same moment by another request: the row it added is the one to bring up to date.
            relation = await repository.relation(session, body.family_id, organisation_id, body.kind)
            assert relation is not None
        if relation.ended_at is not None:  # ended, and told anew: it starts again from what is told now
            relation.since, relation.ended_at, relation.categories = at, None, sorted(set(body.categories))
        else:
            relation.categories = sorted(set(relation.categories) | set(body.categories))
        session.add(relation)
    if body.replace:
        for organisation_id, relation in held.items():
            if organisation_id not in body.organisation_ids and relation.ended_at is None:
                relation.ended_at = at
                session.add(relation)
    await session.flush()
