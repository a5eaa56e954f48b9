"""Who may read a record about a family, and on what basis.

Every read of a family's data asks an `AccessPolicy` for a `Basis` and refuses
without one. The basis is what the audit records: the caller's organisation
wrote the record (authorship), or it holds a grant, a team place or a
safeguarding override, each named by its id. The policy is a seam: a service
starts with `AuthorshipOnly`; with `ACCESS_DECISIONS_URL` set it decides from its
copy of grants while that is current and otherwise asks the service that keeps
them (`access_projection.ProjectedAccessDecisions`, which falls back on
`RemoteAccessDecisions`); the checks in the services do not change.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.problems import Forbidden, ServiceUnavailable


@dataclass(frozen=True)
class Basis:
    """Why a read was allowed: `kind` is authorship, grant, team or override; `reference` the id behind it."""

    kind: str
    reference: str


class AccessRefused(Forbidden):
    slug, title = "access-refused", "Your organisation may not see this family's records"

    def __init__(self, reason: str) -> None:
        # Says why, never what the record holds.
        super().__init__(reason)


class AccessPolicy(Protocol):
    async def basis_for(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        family_id: str,
        category: str,
        purpose: str,
        authors: Collection[str],
        team: Collection[str] = (),
    ) -> Basis | None:
        """The basis on which `principal` may read `category` data of the family, or None.

        `session` is the request's own, so that a policy deciding from the service's
        database reads in the same transaction (and on SQLite, the same connection).

        `authors` are the organisations that wrote the records in question, `team`
        those on the family's team (known to the service that keeps plans).
        """
        ...


COORDINATOR = "coordinator"


def own_basis(principal: Principal, authors: Collection[str], team: Collection[str]) -> Basis | None:
    """What a service knows without asking anyone: authorship or a team place from its own records, and
    a coordinator's public task from the caller's token."""
    if principal.organisation_id in authors:
        return Basis("authorship", principal.organisation_id)
    if principal.organisation_id in team:
        return Basis("team", principal.organisation_id)
    if COORDINATOR in principal.organisation_roles:
        return Basis("public_task", principal.organisation_id)
    return None


class AuthorshipOnly:
    """An organisation sees what it wrote or whose team it is on, and nothing else."""

    async def basis_for(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        family_id: str,
        category: str,
        purpose: str,
        authors: Collection[str],
        team: Collection[str] = (),
    ) -> Basis | None:
        return own_basis(principal, authors, team)


class RemoteAccessDecisions:
    """Asks `POST <url>/access-decisions`, with the caller's own token.

    Authorship and team places are decided here without a call. When the
    decision cannot be had, the read is refused: access fails closed.
    """

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url.rstrip("/") + "/access-decisions"

    async def basis_for(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        family_id: str,
        category: str,
        purpose: str,
        authors: Collection[str],
        team: Collection[str] = (),
    ) -> Basis | None:
        if (own := own_basis(principal, authors, team)) is not None:
            return own
        # Who wrote the record was decided above; the consent service decides the rest from its own records.
        question = {
            "family_id": family_id,
            "category": category,
            "purpose": purpose,
            # Named even when it is the caller's own: a service asks for the organisation it acts for.
            "organisation_id": principal.organisation_id,
            "organisation_type": principal.organisation_type,
        }
        try:
            response = await self.http.post(
                self.url, json=question, headers={"Authorization": f"Bearer {principal.token}"}
            )
            response.raise_for_status()
            answer = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ServiceUnavailable(
                "Access to this family's records cannot be decided just now; try again."
            ) from error
        if answer.get("decision") != "permit":
            return None
        return Basis(str(answer["basis"]["kind"]), str(answer["basis"]["reference"]))
