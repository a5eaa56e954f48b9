"""Signing secrets: made, sealed at rest, and used to sign per the Standard Webhooks specification.

The signature itself comes from the `standardwebhooks` package, the
specification's reference library, so receivers verifying with it agree with us.
Secrets are sealed with Fernet (from `cryptography`) under `NOTIFICATIONS_SECRETS_KEY`:
they must be readable to sign with, so they cannot be hashed, and a copy of the
database alone must not let anyone forge our webhooks.
"""

import base64
import os
import secrets
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix the specification gives secrets, not a secret)


def new_secret() -> str:
    """A `whsec_` secret of 32 random bytes, as the specification suggests (24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def embedded_secrets_key(data_dir: Path) -> str:
    """The key of the embedded default, kept beside its SQLite files (readable by the owner only).

    Production names its own in `NOTIFICATIONS_SECRETS_KEY`, kept apart from the database.
    """
    path = data_dir / "notifications-secrets.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(Fernet.generate_key().decode())
    return path.read_text().strip()


class SecretBox:
    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("NOTIFICATIONS_SECRETS_KEY is not set: generate one with `Fernet.generate_key()`.")
        self._fernet = Fernet(key.encode())

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as error:
            raise RuntimeError("a signing secret was sealed under another NOTIFICATIONS_SECRETS_KEY") from error


def signature_headers(webhook_id: str, timestamp: datetime, body: str, secrets_now: list[str]) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature`; one signature per secret (two during a rotation)."""
    signatures = [Webhook(secret).sign(webhook_id, timestamp, body) for secret in secrets_now]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
