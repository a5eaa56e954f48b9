"""Families: registered once with their members and identifiers, found by identifier, read with a basis."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import AccessPolicy, AccessRefused, Basis
from services.assessment import repository
from services.assessment.clients import Consent
from services.assessment.demographics import age_band
from services.assessment.identifiers import IdentifierSystem, normalise
from services.assessment.localities import Localities, Locality
from services.assessment.models import Family, Person, PersonIdentifier
from services.assessment.schemas import ChildProfile, FamilyIn, ReportingProfile
from services.assessment.service.access import authorise, record
from services.assessment.service.errors import FamilyKnownAlready, FamilyNotFound
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.problems import Conflict, ValidationFailed

_INVALID_IDENTIFIER = {
    IdentifierSystem.NHS: "Enter a valid NHS number: 10 digits, like 943 476 5919.",
    IdentifierSystem.UPN: "Enter a valid unique pupil number: a letter and 12 characters, like A123456789012.",
    IdentifierSystem.LOCAL: "Enter a local id of 1 to 64 characters without spaces.",
}


def _identifier_key(principal: Principal, system: IdentifierSystem, value: str) -> tuple[str, str] | None:
    normalised = normalise(system, value)
    if normalised is None:
        return None
    # A local id means something only to the organisation that issued it.
    stored_system = f"local:{principal.organisation_id}" if system is IdentifierSystem.LOCAL else system.value
    return stored_system, normalised


@dataclass
class FamilyRecord:
    family: Family
    members: Sequence[Person]
    identifiers: Sequence[PersonIdentifier]


async def register_family(
    session: AsyncSession, consent: Consent, principal: Principal, body: FamilyIn
) -> FamilyRecord:
    """A family and its members; the registering organisation becomes an author of its records.

    A member already known by an identifier is a 409 that names no family: it asks, for the caller, those
    who hold a basis for the family to share it (an access request, whose id the problem gives).
    """
    family = Family(id=new_id(), created_by_organisation=principal.organisation_id, created_at=now())
    people: list[Person] = []
    identifiers: list[PersonIdentifier] = []
    problems: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for position, member in enumerate(body.members):
        person = Person(
            id=new_id(),
            family_id=family.id,
            position=position,
            role=member.role,
            given_name=member.given_name,
            family_name=member.family_name,
            date_of_birth=member.date_of_birth,
            relationship=member.relationship,
            sex=member.sex,
            ethnicity=member.ethnicity,
            first_language=member.first_language,
            send_status=member.send_status,
            young_carer=member.young_carer,
            postcode=member.postcode,
        )
        people.append(person)
        for index, identifier in enumerate(member.identifiers):
            pointer = f"/members/{position}/identifiers/{index}/value"
            key = _identifier_key(principal, identifier.system, identifier.value)
            if key is None:
                problems.append({"pointer": pointer, "detail": _INVALID_IDENTIFIER[identifier.system]})
            elif key in seen:
                problems.append({"pointer": pointer, "detail": "This identifier is given twice."})
            else:
                seen.add(key)
                identifiers.append(
                    PersonIdentifier(system=key[0], value=key[1], person_id=person.id, family_id=family.id)
                )
    if problems:
        raise ValidationFailed("Correct the identifiers listed.", errors=problems)
    try:
        async with session.begin_nested():
            session.add(family)
            session.add_all(people)
            await session.flush()
            session.add_all(identifiers)
    except IntegrityError:
        existing = await repository.family_holding(session, sorted(seen))
        if existing is None:  # the clash was with a family whose registration rolled back since
            raise Conflict("Another registration with these identifiers was under way: send it again.") from None
        known = await repository.family(session, existing)
        if known is not None and principal.organisation_id in await repository.authors_of_family(session, known):
            raise FamilyKnownAlready(
                "Your organisation registered or assessed this family already: find it by the member's identifier."
            ) from None
        raise FamilyKnownAlready(
            "A member of this family is already known. Access to the family's records was asked for on your "
            "behalf: those who hold them will answer (GET /access-requests/{access_request_id}).",
            access_request_id=await consent.request_access(existing, principal),
        ) from None
    await consent.tell_authorship(family.id, principal.organisation_id)
    record(session, principal, "create", "family", family.id, family.id, Basis("authorship", principal.organisation_id))
    return FamilyRecord(family, people, identifiers)


async def match_family(session: AsyncSession, identifiers: Sequence[tuple[str, str]], born: date) -> str | None:
    """The family of a member who holds one of these NHS numbers or UPNs and was born on that day; else None.

    For the consent service matching a request for access; local ids mean something only to their issuer
    and are not matched.
    """
    keys = []
    for system_name, value in identifiers:
        system = IdentifierSystem(system_name)
        normalised = normalise(system, value) if system is not IdentifierSystem.LOCAL else None
        if normalised is not None:
            keys.append((system.value, normalised))
    return await repository.family_of_member_born(session, keys, born) if keys else None


def family_locality(localities: Localities, postcodes: Iterable[str | None]) -> Locality | None:
    """The family's locality, from its members' postcodes in the order the members were given: that of the first
    the council's lookup places; None when it places none. The reporting profile and the front door's report both
    answer it, so that a family is in the same locality in every report."""
    return next((found for postcode in postcodes if (found := localities.of(postcode)) is not None), None)


async def reporting_profile(
    session: AsyncSession, principal: Principal, localities: Localities, family_id: str, on: date
) -> ReportingProfile:
    """What the reports may know of a family, for a platform service acting as itself: its locality and, per
    child, an age band on `on`, sex and ethnicity category. The postcode and the dates of birth stay here.

    The family's locality is that of the first member, in the order they were given, whose postcode the
    council's lookup places. The read is audited on the service's own basis, like the needs it reads.
    """
    await require_family(session, family_id)
    people = await repository.members(session, [family_id])
    place = family_locality(localities, (person.postcode for person in people))
    profile = ReportingProfile(
        family_id=family_id,
        on=on,
        locality_code=place.code if place else None,
        locality_name=place.name if place else None,
        children=[
            ChildProfile(age_band=age_band(person.date_of_birth, on), sex=person.sex, ethnicity=person.ethnicity)
            for person in people
            if person.role == "child"
        ],
    )
    record(session, principal, "read_reporting_profile", "family", family_id, family_id,
           Basis("service", principal.subject))  # fmt: skip
    return profile


async def _authorise_read(session: AsyncSession, policy: AccessPolicy, principal: Principal, family: Family) -> Basis:
    return await authorise(
        session,
        policy,
        principal,
        action="read",
        resource_type="family",
        resource_id=family.id,
        family_id=family.id,
        authors=await repository.authors_of_family(session, family),
    )


async def read_family(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str
) -> FamilyRecord:
    family = await require_family(session, family_id)
    await _authorise_read(session, policy, principal, family)
    return (await _records(session, [family]))[0]


async def find_families(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, identifier: str
) -> list[FamilyRecord]:
    """The families holding a member with this identifier, of those the caller may see; the rest are not counted."""
    system_name, _, value = identifier.partition(":")
    try:
        system = IdentifierSystem(system_name)
    except ValueError:
        raise ValidationFailed(
            "Search by nhs:<number>, upn:<number> or local:<id>.",
            errors=[{"parameter": "identifier", "in": "query", "detail": "Unknown identifier system."}],
        ) from None
    key = _identifier_key(principal, system, value)
    if key is None:
        raise ValidationFailed(
            "The identifier is not valid.",
            errors=[{"parameter": "identifier", "in": "query", "detail": _INVALID_IDENTIFIER[system]}],
        )
    visible: list[Family] = []
    for family_id in await repository.families_by_identifier(session, *key):
        family = await repository.family(session, family_id)
        if family is None:
            continue
        try:
            await _authorise_read(session, policy, principal, family)
        except AccessRefused:
            continue  # left out of the answer, not refused: a search does not say what exists
        visible.append(family)
    return await _records(session, visible)


async def _records(session: AsyncSession, families: Sequence[Family]) -> list[FamilyRecord]:
    ids = [family.id for family in families]
    people = await repository.members(session, ids)
    identifiers = await repository.identifiers(session, ids)
    return [
        FamilyRecord(
            family,
            [person for person in people if person.family_id == family.id],
            [identifier for identifier in identifiers if identifier.family_id == family.id],
        )
        for family in families
    ]


async def require_family(session: AsyncSession, family_id: str) -> Family:
    family = await repository.family(session, family_id)
    if family is None:
        raise FamilyNotFound()
    return family
