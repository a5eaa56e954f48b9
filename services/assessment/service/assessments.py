"""Assessments: written as drafts or submitted at once, changed by their author, corrected with a reason,
carried forward into a newer form version or another organisation's assessment, and every revision kept.

Every change is kept as a revision and announced by a thin event in the same transaction.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.access.decisions import AccessPolicy, AccessRefused, Basis
from services.assessment import repository
from services.assessment.clients import Consent
from services.assessment.events import AssessmentCreated, AssessmentSubmitted, AssessmentUpdated, emit
from services.assessment.forms import CarryForward, CompiledForm, carry_forward
from services.assessment.models import Assessment, AssessmentRevision, Family
from services.assessment.schemas import AssessmentIn, AssessmentNeeds, FormRef, Need
from services.assessment.service.access import CATEGORY, PURPOSE, REFUSAL, authorise, record
from services.assessment.service.errors import (
    AssessmentNotFound,
    AssessmentSubmittedAlready,
    InvalidAnswers,
    NotSubmitted,
    NotTheAuthor,
    StillADraft,
    UnknownFamily,
    UnknownFormVersion,
)
from services.assessment.service.families import require_family
from services.assessment.service.form_versions import (
    CompiledForms,
    open_form,
    refuse_unless_published,
    require_form_version,
)
from services.kit.auth import Principal
from services.kit.clock import now
from services.kit.ids import new_id
from services.kit.jsonpointer import escape
from services.kit.problems import ValidationFailed


def changed_pointers(before: Any, after: Any, path: str = "") -> list[str]:
    """The JSON pointers of the answers that differ; sections and group entries are compared answer by answer."""
    if isinstance(before, dict | None) and isinstance(after, dict | None) and (before or after):
        before, after = before or {}, after or {}
        changed: list[str] = []
        for name in list(before) + [name for name in after if name not in before]:
            changed.extend(changed_pointers(before.get(name), after.get(name), f"{path}/{escape(name)}"))
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


def _first_revision(assessment: Assessment, principal: Principal) -> AssessmentRevision:
    return _revision(assessment, principal, changed_pointers({}, assessment.answers))


def _authorship(principal: Principal) -> Basis:
    return Basis("authorship", principal.organisation_id)


async def create_assessment(
    session: AsyncSession,
    forms: CompiledForms,
    policy: AccessPolicy,
    consent: Consent,
    principal: Principal,
    body: AssessmentIn,
) -> Assessment:
    """A new assessment of a family the caller's organisation holds a basis for; it becomes an author."""
    key, version = body.form.key, body.form.version
    state = await repository.form_state(session, key, version)
    if state is None:
        raise UnknownFormVersion.named(key, version)
    status, sha256 = state
    refuse_unless_published(key, version, status)
    complete = body.status == "submitted"
    _validate(await forms.by_hash(session, key, version, sha256), body.answers, complete=complete)
    family = await repository.family(session, body.family_id)
    if family is None:
        raise UnknownFamily(errors=[{"pointer": "/family_id", "detail": "No family has this id."}])
    await _may_write_for(session, policy, consent, principal, family)
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
    record(session, principal, "create", CATEGORY, assessment.id, assessment.family_id, _authorship(principal))


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


async def _require(session: AsyncSession, assessment_id: str, *, for_update: bool = False) -> Assessment:
    assessment = await repository.assessment(session, assessment_id, for_update=for_update)
    if assessment is None:
        raise AssessmentNotFound()
    return assessment


async def read_assessment(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str, *, action: str = "read"
) -> Assessment:
    assessment = await _require(session, assessment_id)
    await authorise(
        session,
        policy,
        principal,
        action=action,
        resource_type=CATEGORY,
        resource_id=assessment.id,
        family_id=assessment.family_id,
        authors=(assessment.organisation_id,),
    )
    return assessment


async def changeable(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str
) -> Assessment:
    """An assessment the caller's organisation wrote, locked for the change it is about to make."""
    assessment = await _require(session, assessment_id, for_update=True)
    # Asked, not audited: a caller without a basis is refused as a reader would be, and the change
    # itself is recorded, on authorship, once it is made.
    basis = await policy.basis_for(
        session,
        principal,
        family_id=assessment.family_id,
        category=CATEGORY,
        purpose=PURPOSE,
        authors=(assessment.organisation_id,),
    )
    if basis is None:
        raise AccessRefused(REFUSAL)
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
    record(session, principal, action, CATEGORY, assessment.id, assessment.family_id, _authorship(principal))
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
    consent: Consent,
    principal: Principal,
    assessment_id: str,
    form_version: int | None,
) -> Assessment:
    """A new draft for the caller's organisation, from an assessment it may read, on the same or a newer version.

    Reading the source needs a basis like any read: across organisations that is
    the family's sharing grant, asked of the access policy.
    """
    source = await read_assessment(session, policy, principal, assessment_id, action="carry_forward")
    family = await repository.family(session, source.family_id)
    assert family is not None  # an assessment's family is never deleted
    # What is carried becomes the caller's own record: the organisation a lawful share reached controls it.
    await _may_write_for(session, policy, consent, principal, family)
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
    target_row, target = await open_form(session, forms, source.form_key, target_version)
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
    assessment = await _require(session, assessment_id)
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
    record(session, principal, "read_needs", CATEGORY, assessment.id, assessment.family_id, basis)
    return found


async def family_assessments(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, family_id: str
) -> list[Assessment]:
    """The family's assessments the caller may read; the others are neither shown nor counted."""
    await require_family(session, family_id)
    return await _listable(session, policy, principal, await repository.assessments_of_family(session, family_id))


async def organisation_drafts(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, limit: int
) -> list[Assessment]:
    """The caller's organisation's own drafts, each listing audited: a practitioner's unfinished work."""
    drafts = await repository.drafts_of_organisation(session, principal.organisation_id, limit)
    return await _listable(session, policy, principal, drafts)


async def organisation_draft_count(session: AsyncSession, principal: Principal) -> int:
    """How many drafts `organisation_drafts` would list, without a decision: the caller's organisation wrote them."""
    return await repository.count_drafts_of_organisation(session, principal.organisation_id)


async def _listable(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, found: Sequence[Assessment]
) -> list[Assessment]:
    visible = []
    for assessment in found:
        try:
            await authorise(
                session,
                policy,
                principal,
                action="list",
                resource_type=CATEGORY,
                resource_id=assessment.id,
                family_id=assessment.family_id,
                authors=(assessment.organisation_id,),
            )
        except AccessRefused:
            continue  # neither shown nor counted
        visible.append(assessment)
    return visible


async def revisions(
    session: AsyncSession, policy: AccessPolicy, principal: Principal, assessment_id: str
) -> Sequence[AssessmentRevision]:
    assessment = await read_assessment(session, policy, principal, assessment_id, action="read_revisions")
    return await repository.revisions(session, assessment.id)


async def _may_write_for(
    session: AsyncSession, policy: AccessPolicy, consent: Consent, principal: Principal, family: Family
) -> None:
    """A basis for the family's assessments, or `AccessRefused` (audited); a new author is told to consent.

    The family's authors are the organisation that registered it and those that wrote its assessments.
    """
    authors = await repository.authors_of_family(session, family)
    await authorise(
        session,
        policy,
        principal,
        action="write",
        resource_type="family",
        resource_id=family.id,
        family_id=family.id,
        authors=authors,
    )
    if principal.organisation_id not in authors:
        await consent.tell_authorship(family.id, principal.organisation_id)
