"""Form versions: drafts written and rewritten, published once, retired; the shipped ones stored at start."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment import repository
from services.assessment.events import FormVersionPublished, emit
from services.assessment.forms import CompiledForm, FormContent, FormDefinition, definition_problems
from services.assessment.models import FormVersion
from services.assessment.service.errors import (
    FormVersionNotFound,
    FormVersionNotOpen,
    FormVersionPublishedAlready,
    InvalidDefinition,
    UnknownFormVersion,
)
from services.kit.clock import now
from services.kit.problems import Conflict


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


async def all_form_versions(session: AsyncSession) -> Sequence[FormVersion]:
    """Every version of every form, by key and version."""
    return await repository.form_versions(session)


async def require_form_version(session: AsyncSession, key: str, version: int) -> FormVersion:
    row = await repository.form_version(session, key, version)
    if row is None:
        raise FormVersionNotFound(f"Form '{key}' has no version {version}.")
    return row


async def open_form(
    session: AsyncSession, forms: CompiledForms, key: str, version: int
) -> tuple[FormVersion, CompiledForm]:
    """A published version named in a request, compiled; a 422 naming `/form/version` otherwise."""
    row = await repository.form_version(session, key, version)
    if row is None:
        raise UnknownFormVersion.named(key, version)
    refuse_unless_published(key, version, row.status)
    return row, forms.of(row)


def refuse_unless_published(key: str, version: int, status: str) -> None:
    if status != "published":
        raise FormVersionNotOpen(
            f"Version {version} of '{key}' is {status}: use a published version.",
            errors=[{"pointer": "/form/version", "detail": f"This version is {status}."}],
        )


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
        elif stored.definition != _stored(definition):
            # The same hash, so only the `belongs_to` markers differ: they say what carry-forward leaves out.
            stored.definition = _stored(definition)
