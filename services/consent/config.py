from pathlib import Path

from pydantic import AliasChoices, Field

from services.kit.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"CONSENT_{name.upper()}")


class ConsentSettings(ServiceSettings):
    name: str = "consent"
    # Grants and overrides are announced as expired at their end (access stops then regardless); the sweep sleeps
    # until the next end, woken by this process's commits that move it, and looks anyway after this long, for
    # ends another replica made.
    expiry_sweep_seconds: float = 60.0
    # Where requests for access are matched to a family (the assessment service's internal endpoint).
    assessment_url: str = Field(default="http://127.0.0.1:8001", validation_alias=_env("assessment_url"))
    # The Ed25519 private key (PEM) that signs the access log's checkpoints, kept apart from the database.
    # Unset: on the embedded default (SQLite) one is made in the data folder; on PostgreSQL the start fails.
    audit_signing_key_file: Path | None = Field(default=None, validation_alias=_env("audit_signing_key_file"))
    # A checkpoint is signed once this many entries follow the last one, or once this long has passed
    # since it while entries arrive: what a rewrite could change unseen is at most the entries since.
    audit_checkpoint_entries: int = Field(default=1000, ge=1, validation_alias=_env("audit_checkpoint_entries"))
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0, validation_alias=_env("audit_checkpoint_seconds"))
