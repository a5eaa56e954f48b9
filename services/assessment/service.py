"""The assessment service's rules: form versions, families, and assessments told once.

Every read of a family's data asks the access policy for a basis and is
audited with it; every change is kept as a revision and announced by a thin
event in the same transaction.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment import repository
from services.assessment.events import (
    SOURCE,
    AssessmentCreated,
    AssessmentSubmitted,
    AssessmentUpdated,
    FormVersionPublished,
    emit,
)
from services.assessment.forms import (
    CarryForward,
    CompiledForm,
    FormContent,
    FormDefinition,
    Problem,
    carry_forward,
    definition_problems,
)
from services.assessment.identifiers import IdentifierSystem, normalise
from services.assessment.models import Assessment, AssessmentRevision, Family, FormVersion, Person, PersonIdentifier
from services.assessment.schemas import AssessmentIn, AssessmentNeeds, FamilyIn, FormRef, Need
from services.kit.access import AccessPolicy, AccessRefused, Basis
from services.kit.audit import record_access
from services.kit.auth import Principal
from services.kit.problems import Conflict, Forbidden, NotFound, ValidationFailed

CATEGORY = "assessment"
PURPOSE = "early-help"


class FormVersionNotFound(NotFound):
    slug, title = "form-version-not-found", "No such form version"


class UnknownFormVersion(ValidationFailed):
    slug, title = "unknown-form-version", "The form version named does not exist"

    @classmethod
    def named(cls, key: str, version: int) -> "UnknownFormVersion":
        return cls(
            f"Form '{key}' has no version {version}; GET /forms lists the versions.",
            errors=[{"pointer": "/form/version", "detail": "No such form version."}],
        )


class FormVersionNotOpen(ValidationFailed):
    slug, title = "form-version-not-open", "The form version named cannot take new assessments"


class FormVersionPublishedAlready(Conflict):
    slug, title = "form-version-published", "A published form version never changes"


class InvalidDefinition(ValidationFailed):
    slug, title = "invalid-form-definition", "The form definition is not sound"


class FamilyNotFound(NotFound):
    slug, title = "family-not-found", "No such family"


class UnknownFamily(ValidationFailed):
    slug, title = "unknown-family", "The family named does not exist"


class FamilyKnownAlready(Conflict):
    slug, title = "family-exists", "A member of this family is already known"


class AssessmentNotFound(NotFound):
    slug, title = "assessment-not-found", "No such assessment"


class AssessmentSubmittedAlready(Conflict):
    slug, title = "assessment-submitted", "The assessment is submitted"


class NotSubmitted(Conflict):
    slug, title = "assessment-not-submitted", "Only a submitted assessment is corrected"


class StillADraft(Conflict):
    slug, title = "assessment-draft", "The assessment is still a draft"


class NotTheAuthor(Forbidden):
    slug, title = "not-the-author", "Only the organisation that wrote an assessment changes it"


class InvalidAnswers(ValidationFailed):
    slug, title = "invalid-answers", "Some answers need attention"

    def __init__(self, problems: Sequence[Problem], *, complete: bool) -> None:
        detail = (
            "Answer every required question and correct the answers listed."
            if complete
            else "Correct the answers listed; a draft may leave questions unanswered."
        )
        super().__init__(detail, errors=[problem.as_dict("/answers") for problem in problems])


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


# --- form versions ------------------------------------------------------------------


class CompiledForms:
    """Compiled validators by definition hash: a definition with a given hash never changes."""

    def __init__(self) -> None:
        self._by_sha256: dict[str, CompiledForm] = {}

    def of(self, row: FormVersion) -> CompiledForm:
        compiled = self._by_sha256.get(row.sha256)
        if compiled is None:
            compiled = CompiledForm(
                FormDefinition.model_validate({**row.definition, "key": row.key, "version": row.version})
            )
            self._by_sha256[row.sha256] = compiled
        return compiled

    async def by_hash(self, session: AsyncSession, key: str, version: int, sha256: str) -> CompiledForm:
        """The compiled form, reading its definition only the first time this process meets it."""
        compiled = self._by_sha256.get(sha256)
        if compiled is None:
            compiled = self.of(await require_form_version(session, key, version))
        return compiled


def _stored(definition: FormDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"key", "version"})


def _check(content: FormContent) -> None:
    problems = definition_problems(content)
    if problems:
        raise InvalidDefinition(
            "Correct the definition at each pointer listed.", errors=[problem.as_dict() for problem in problems]
        )


async def require_form_version(session: AsyncSession, key: str, version: int) -> FormVersion:
    row = await repository.form_version(session, key, version)
    if row is None:
        raise FormVersionNotFound(f"Form '{key}' has no version {version}.")
    return row


async def create_form_version(session: AsyncSession, key: str, content: FormContent) -> FormVersion:
    """A new draft version, numbered after the highest so far."""
    _check(content)
    version = await repository.highest_version(session, key) + 1
    definition = FormDefinition.model_validate({**content.model_dump(by_alias=True), "key": key, "version": version})
    row = FormVersion(
        key=key,
        version=version,
        status="draft",
        title=definition.title,
        definition=_stored(definition),
        sha256=definition.sha256,
        created_at=now(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("Another version of this form was created at the same moment: send it again.") from None
    return row


async def replace_draft_version(session: AsyncSession, key: str, version: int, content: FormContent) -> FormVersion:
    row = await require_form_version(session, key, version)
    if row.status != "draft":
        raise FormVersionPublishedAlready(f"Version {version} is {row.status}: create a new version instead.")
    _check(content)
    definition = FormDefinition.model_validate({**content.model_dump(by_alias=True), "key": key, "version": version})
    row.title, row.definition, row.sha256 = definition.title, _stored(definition), definition.sha256
    return row


async def publish_form_version(session: AsyncSession, key: str, version: int) -> FormVersion:
    row = await require_form_version(session, key, version)
    if row.status != "draft":
        raise FormVersionPublishedAlready(f"Version {version} is {row.status} already.")
    row.status, row.published_at = "published", now()
    emit(
        session, FormVersionPublished(form_key=key, version=version, sha256=row.sha256), subject=f"form/{key}/{version}"
    )
    return row


async def retire_form_version(session: AsyncSession, key: str, version: int) -> FormVersion:
    """No new assessments on this version; those already written stay readable."""
    row = await require_form_version(session, key, version)
    if row.status != "published":
        raise Conflict(f"Only a published version is retired; version {version} is {row.status}.")
    row.status, row.retired_at = "retired", now()
    return row


async def load_shipped_forms(session: AsyncSession, definitions: Sequence[FormDefinition]) -> None:
    """Store each shipped definition as published, once; refuse a published version whose file changed."""
    for definition in definitions:
        _check(definition)
        stored = await repository.form_version(session, definition.key, definition.version)
        if stored is None:
            stamp = now()
            session.add(
                FormVersion(
                    key=definition.key,
                    version=definition.version,
                    status="published",
                    title=definition.title,
                    definition=_stored(definition),
                    sha256=definition.sha256,
                    created_at=stamp,
                    published_at=stamp,
                )
            )
            emit(
                session,
                FormVersionPublished(form_key=definition.key, version=definition.version, sha256=definition.sha256),
                subject=f"form/{definition.key}/{definition.version}",
            )
        elif stored.sha256 != definition.sha256:
            raise RuntimeError(
                f"schemas/forms/{definition.key}/{definition.version}.json differs from the published version: "
                "a published version never changes, so write the change as a new version"
            )


# --- families -----------------------------------------------------------------------


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


async def register_family(session: AsyncSession, principal: Principal, body: FamilyIn) -> FamilyRecord:
    """A family and its members. A member already known by an identifier is a 409 naming their family."""
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
        error = FamilyKnownAlready(
            "A member of this family is already registered; use the existing family.",
            family_id=existing,
        )
        error.headers = {"Location": f"/families/{existing}"}
        raise error from None
    basis = Basis("authorship", principal.organisation_id)
    _audit(session, principal, "create", "family", family.id, family.id, basis)
    return FamilyRecord(family, people, identifiers)


_INVALID_IDENTIFIER = {
    IdentifierSystem.NHS: "Enter a valid NHS number: 10 digits, like 943 476 5919.",
    IdentifierSystem.UPN: "Enter a valid unique pupil number: a letter and 12 characters, like A123456789012.",
    IdentifierSystem.LOCAL: "Enter a local id of 1 to 64 characters without spaces.",
}


async def read_family(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str
) -> FamilyRecord:
    family = await repository.family(session, family_id)
    if family is None:
        raise FamilyNotFound()
    basis = await _basis(session, policy, principal, family)
    if basis is None:
        raise AccessRefused(_REFUSAL)
    _audit(session, principal, "read", "family", family.id, family.id, basis)
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
        basis = await _basis(session, policy, principal, family)
        if basis is not None:
            _audit(session, principal, "read", "family", family.id, family.id, basis)
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


async def _basis(session: AsyncSession, policy: AccessPolicy, principal: Principal, family: Family) -> Basis | None:
    authors = await repository.authors_of_family(session, family)
    return await policy.basis_for(
        session, principal, family_id=family.id, category=CATEGORY, purpose=PURPOSE, authors=authors
    )


_REFUSAL = (
    "Your organisation has no basis to see this family's records: it did not write them, and the family "
    "has not agreed to share them with it."
)


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str,
    family_id: str,
    basis: Basis,
) -> None:
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


# --- assessments --------------------------------------------------------------------


def changed_pointers(before: Any, after: Any, path: str = "") -> list[str]:
    """The JSON pointers of the answers that differ; sections and group entries are compared answer by answer."""
    if isinstance(before, dict | None) and isinstance(after, dict | None) and (before or after):
        before, after = before or {}, after or {}
        changed: list[str] = []
        for name in list(before) + [name for name in after if name not in before]:
            pointer = f"{path}/{name.replace('~', '~0').replace('/', '~1')}"
            changed.extend(changed_pointers(before.get(name), after.get(name), pointer))
        return changed
    if _is_group_value(before) and _is_group_value(after) and (before or after):
        before, after = before or [], after or []
        changed = []
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else None
            new = after[index] if index < len(after) else None
            changed.extend(changed_pointers(old, new, f"{path}/{index}"))
        return changed
    return [] if before == after else [path]


def _is_group_value(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(item, dict) for item in value))


def _validate(form: CompiledForm, answers: dict[str, Any], *, complete: bool) -> None:
    problems = form.problems(answers, complete=complete)
    if problems:
        raise InvalidAnswers(problems, complete=complete)


def _revision(
    assessment: Assessment, principal: Principal, changed: list[str], reason: str | None = None
) -> AssessmentRevision:
    return AssessmentRevision(
        assessment_id=assessment.id,
        number=assessment.revision,
        status=assessment.status,
        answers=assessment.answers,
        changed=changed,
        reason=reason,
        organisation_id=principal.organisation_id,
        author=principal.subject,
        created_at=assessment.updated_at,
    )


async def _open_form(
    session: AsyncSession, forms: CompiledForms, key: str, version: int
) -> tuple[FormVersion, CompiledForm]:
    row = await repository.form_version(session, key, version)
    if row is None:
        raise UnknownFormVersion.named(key, version)
    _refuse_unless_published(key, version, row.status)
    return row, forms.of(row)


def _refuse_unless_published(key: str, version: int, status: str) -> None:
    if status != "published":
        raise FormVersionNotOpen(
            f"Version {version} of '{key}' is {status}: use a published version.",
            errors=[{"pointer": "/form/version", "detail": f"This version is {status}."}],
        )


async def create_assessment(
    session: AsyncSession, forms: CompiledForms, principal: Principal, body: AssessmentIn
) -> Assessment:
    key, version = body.form.key, body.form.version
    state = await repository.form_state(session, key, version)
    if state is None:
        raise UnknownFormVersion.named(key, version)
    status, sha256 = state
    _refuse_unless_published(key, version, status)
    complete = body.status == "submitted"
    _validate(await forms.by_hash(session, key, version, sha256), body.answers, complete=complete)
    stamp = now()
    assessment = Assessment(
        id=new_id(),
        family_id=body.family_id,
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        form_key=key,
        form_version=version,
        form_sha256=sha256,
        status=body.status,
        revision=1,
        answers=body.answers,
        carried_from=None,
        carried_forward=[],
        created_at=stamp,
        updated_at=stamp,
        submitted_at=stamp if complete else None,
    )
    try:
        # The family's foreign key decides whether it exists: no read before the write, and no
        # savepoint either, since a refusal ends the request and rolls back its whole transaction.
        await repository.insert_assessment(session, assessment, _first_revision(assessment, principal))
    except IntegrityError:
        raise UnknownFamily(errors=[{"pointer": "/family_id", "detail": "No family has this id."}]) from None
    _announce_new(session, principal, assessment)
    return assessment


def _first_revision(assessment: Assessment, principal: Principal) -> AssessmentRevision:
    return _revision(assessment, principal, changed_pointers({}, assessment.answers))


def _announce_new(session: AsyncSession, principal: Principal, assessment: Assessment) -> None:
    created = AssessmentCreated(
        assessment_id=assessment.id,
        family_id=assessment.family_id,
        organisation_id=assessment.organisation_id,
        organisation_type=principal.organisation_type,
        form_key=assessment.form_key,
        form_version=assessment.form_version,
        status=assessment.status,
        revision=assessment.revision,
        carried_from=assessment.carried_from,
    )
    emit(session, created, subject=f"assessment/{assessment.id}", family_id=assessment.family_id)
    if assessment.status == "submitted":
        _announce_submitted(session, principal, assessment)
    basis = Basis("authorship", principal.organisation_id)
    _audit(session, principal, "create", CATEGORY, assessment.id, assessment.family_id, basis)


def _announce_submitted(session: AsyncSession, principal: Principal, assessment: Assessment) -> None:
    """`principal` is of the author's organisation: only the author creates or submits."""
    submitted = AssessmentSubmitted(
        assessment_id=assessment.id,
        family_id=assessment.family_id,
        organisation_id=assessment.organisation_id,
        organisation_type=principal.organisation_type,
        form_key=assessment.form_key,
        form_version=assessment.form_version,
        revision=assessment.revision,
    )
    emit(session, submitted, subject=f"assessment/{assessment.id}", family_id=assessment.family_id)


async def _readable(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str, *, for_update: bool = False
) -> tuple[Assessment, Basis]:
    assessment = await repository.assessment(session, assessment_id, for_update=for_update)
    if assessment is None:
        raise AssessmentNotFound()
    basis = await policy.basis_for(
        session,
        principal,
        family_id=assessment.family_id,
        category=CATEGORY,
        purpose=PURPOSE,
        authors=(assessment.organisation_id,),
    )
    if basis is None:
        raise AccessRefused(_REFUSAL)
    return assessment, basis


async def read_assessment(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str, *, action: str = "read"
) -> Assessment:
    assessment, basis = await _readable(session, policy, principal, assessment_id)
    _audit(session, principal, action, CATEGORY, assessment.id, assessment.family_id, basis)
    return assessment


async def changeable(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str
) -> Assessment:
    """An assessment the caller's organisation wrote, locked for the change it is about to make."""
    assessment, _basis = await _readable(session, policy, principal, assessment_id, for_update=True)
    if assessment.organisation_id != principal.organisation_id:
        raise NotTheAuthor("Start an assessment of your own from this one with carry-forward.")
    return assessment


def _change(
    session: AsyncSession,
    principal: Principal,
    assessment: Assessment,
    answers: dict[str, Any],
    *,
    action: str,
    reason: str | None = None,
) -> list[str]:
    changed = changed_pointers(assessment.answers, answers)
    if not changed and action == "update":
        return changed  # nothing to keep: the same answers sent again
    assessment.answers = answers
    assessment.revision += 1
    assessment.updated_at = now()
    session.add(_revision(assessment, principal, changed, reason))
    if changed:
        updated = AssessmentUpdated(
            assessment_id=assessment.id,
            family_id=assessment.family_id,
            organisation_id=assessment.organisation_id,
            revision=assessment.revision,
            changed=changed,
            correction=action == "correct",
        )
        emit(session, updated, subject=f"assessment/{assessment.id}", family_id=assessment.family_id)
    _audit(
        session,
        principal,
        action,
        CATEGORY,
        assessment.id,
        assessment.family_id,
        Basis("authorship", principal.organisation_id),
    )
    return changed


async def _form_of(session: AsyncSession, forms: CompiledForms, assessment: Assessment) -> CompiledForm:
    return forms.of(await require_form_version(session, assessment.form_key, assessment.form_version))


async def update_draft(
    session: AsyncSession,
    forms: CompiledForms,
    principal: Principal,
    assessment: Assessment,
    answers: dict[str, Any],
) -> Assessment:
    """New answers for a draft (the caller checked If-Match against the assessment it read)."""
    if assessment.status != "draft":
        raise AssessmentSubmittedAlready("A submitted assessment changes only by correction, with a reason.")
    _validate(await _form_of(session, forms, assessment), answers, complete=False)
    _change(session, principal, assessment, answers, action="update")
    return assessment


async def submit(
    session: AsyncSession, forms: CompiledForms, principal: Principal, assessment: Assessment
) -> Assessment:
    if assessment.status != "draft":
        raise AssessmentSubmittedAlready("This assessment is submitted already.")
    _validate(await _form_of(session, forms, assessment), assessment.answers, complete=True)
    assessment.status = "submitted"
    assessment.submitted_at = now()
    _change(session, principal, assessment, assessment.answers, action="submit")
    _announce_submitted(session, principal, assessment)
    return assessment


async def correct(
    session: AsyncSession,
    forms: CompiledForms,
    principal: Principal,
    assessment: Assessment,
    answers: dict[str, Any],
    reason: str,
) -> Assessment:
    if assessment.status != "submitted":
        raise NotSubmitted("A draft is changed with PUT.")
    _validate(await _form_of(session, forms, assessment), answers, complete=True)
    _change(session, principal, assessment, answers, action="correct", reason=reason)
    return assessment


async def carry_forward_assessment(
    session: AsyncSession,
    forms: CompiledForms,
    policy: AccessPolicy,
    principal: Principal,
    assessment_id: str,
    form_version: int | None,
) -> Assessment:
    """A new draft for the caller's organisation, from an assessment it may read, on the same or a newer version.

    Reading the source needs a basis like any read: across organisations that is
    the family's sharing grant, asked of the access policy.
    """
    source = await read_assessment(session, policy, principal, assessment_id, action="carry_forward")
    source_row = await require_form_version(session, source.form_key, source.form_version)
    if form_version is None:
        latest = await repository.latest_published(session, source.form_key)
        target_version = latest.version if latest is not None else source.form_version
    else:
        target_version = form_version
    if target_version < source.form_version:
        raise ValidationFailed(
            "Answers carry forward to the same or a newer version of the form.",
            errors=[{"pointer": "/form_version", "detail": f"Use version {source.form_version} or newer."}],
        )
    target_row, target = await _open_form(session, forms, source.form_key, target_version)
    steps: list[CarryForward] = []
    for version in range(source.form_version + 1, target_version + 1):
        between = await repository.form_version(session, source.form_key, version)
        declared = between.definition.get("carry_forward") if between is not None else None
        if declared is not None and declared.get("from_version") == version - 1:
            steps.append(CarryForward.model_validate(declared))
    answers, carried = carry_forward(source.answers, forms.of(source_row), target, steps)
    stamp = now()
    draft = Assessment(
        id=new_id(),
        family_id=source.family_id,
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        form_key=target_row.key,
        form_version=target_row.version,
        form_sha256=target_row.sha256,
        status="draft",
        revision=1,
        answers=answers,
        carried_from=source.id,
        carried_forward=carried,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(draft)
    session.add(_first_revision(draft, principal))
    _announce_new(session, principal, draft)
    return draft


async def needs_found(session: AsyncSession, principal: Principal, assessment_id: str) -> AssessmentNeeds:
    """What a submitted assessment found, for a platform service acting as itself on `assessment.submitted`.

    No organisation asks, so no access decision is asked for; the read is audited on
    the service's own basis, so that a subject access request shows it.
    """
    assessment = await repository.assessment(session, assessment_id)
    if assessment is None:
        raise AssessmentNotFound()
    if assessment.status != "submitted" or assessment.submitted_at is None:
        raise StillADraft("Its needs are read once it is submitted.")
    answers = assessment.answers
    found = AssessmentNeeds(
        assessment_id=assessment.id,
        family_id=assessment.family_id,
        organisation_id=assessment.organisation_id,
        form=FormRef(key=assessment.form_key, version=assessment.form_version),
        submitted_at=assessment.submitted_at,
        started_on=answers.get("about_the_assessment", {}).get("date_started"),
        children=await repository.children_in_family(session, assessment.family_id),
        # Top-level answers of the early help assessment; a form without them has none to give.
        needs=[Need(description=n["description"], outcome_area=n["outcome_area"]) for n in answers.get("needs", [])],
        level_of_need=answers.get("level_of_need"),
        next_step=answers.get("next_step"),
    )
    basis = Basis("service", principal.subject)
    _audit(session, principal, "read_needs", CATEGORY, assessment.id, assessment.family_id, basis)
    return found


async def family_assessments(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str
) -> list[Assessment]:
    """The family's assessments the caller may read; the others are neither shown nor counted."""
    family = await repository.family(session, family_id)
    if family is None:
        raise FamilyNotFound()
    visible = []
    for assessment in await repository.assessments_of_family(session, family_id):
        basis = await policy.basis_for(
            session,
            principal,
            family_id=family_id,
            category=CATEGORY,
            purpose=PURPOSE,
            authors=(assessment.organisation_id,),
        )
        if basis is not None:
            _audit(session, principal, "list", CATEGORY, assessment.id, family_id, basis)
            visible.append(assessment)
    return visible


async def revisions(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str
) -> Sequence[AssessmentRevision]:
    assessment = await read_assessment(session, policy, principal, assessment_id, action="read_revisions")
    return await repository.revisions(session, assessment.id)
