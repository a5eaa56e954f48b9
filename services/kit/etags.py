"""Optimistic concurrency: an ETag per version of a resource, and `If-Match` to change it.

A change without `If-Match` is refused with 428, one against a version that is
no longer current with 412, so two people editing at once never overwrite each
other's work without knowing.
"""

from typing import Annotated

from fastapi import Header

from services.kit.problems import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def _listed(if_match: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in if_match.split(",") if tag.strip()}


def check_if_match(if_match: str | None, version: int, *, required: bool = True) -> None:
    """Let a change through only when `If-Match` names the current version (or is `*`)."""
    if if_match is None:
        if required:
            raise PreconditionRequired("Send If-Match with the ETag of the version you changed.")
        return
    tags = _listed(if_match)
    if "*" not in tags and etag(version) not in tags:
        raise PreconditionFailed(
            "Someone else changed this since you read it: read it again and reapply your change.",
            current_etag=etag(version),
        )


IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The ETag of the version being changed.", max_length=200)
]
