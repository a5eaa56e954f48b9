"""The key that signs the access log's checkpoints, held outside the database.

The hash chain alone shows a change to an entry only to whoever cannot recompute
the hashes; anyone with the database can rewrite an entry and rehash every
entry after it. A checkpoint states, under this key, that the entry at a
position had a hash; the key is read from a file the database never holds, so
a rewrite no longer matches a signed checkpoint.

Signatures are compact JWS (RFC 7515) with Ed25519 (`alg` "Ed25519", RFC 9864),
made with joserfc, so anyone holding the published public key verifies them with
any JOSE library. The key id is the key's JWK thumbprint (RFC 7638).
"""

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

ALGORITHM: Final = "Ed25519"
EMBEDDED_KEY_FILE = "consent-audit-signing.pem"  # in the data folder of the embedded default


@dataclass(frozen=True)
class CheckpointStatement:
    """What a checkpoint signs: the `sequence`-th checkpoint saw the entry at `position` with `hash`."""

    sequence: int
    position: int
    hash: str
    signed_at: datetime

    def payload(self) -> bytes:
        fields = {
            "sequence": self.sequence,
            "position": self.position,
            "hash": self.hash,
            "signed_at": self.signed_at.isoformat(),
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class AuditSigningKey:
    def __init__(self, private_key: OKPKey) -> None:
        self._private = private_key
        self._public = OKPKey.import_key(private_key.as_dict(private=False))
        self.key_id = private_key.thumbprint()

    @classmethod
    def from_file(cls, path: Path) -> "AuditSigningKey":
        key = OKPKey.import_key(path.read_bytes())
        if key.curve_name != ALGORITHM:
            raise ValueError(
                f"{path} holds an {key.curve_name} key; the access log's checkpoints are signed with Ed25519"
            )
        return cls(key)

    def sign(self, statement: CheckpointStatement) -> str:
        header = {"alg": ALGORITHM, "kid": self.key_id}
        return jws.serialize_compact(header, statement.payload(), self._private, algorithms=[ALGORITHM])

    def signed(self, signature: str, statement: CheckpointStatement) -> bool:
        """Whether `signature` is this key's, over exactly this statement."""
        try:
            token = jws.deserialize_compact(signature, self._public, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            return False
        return token.headers().get("kid") == self.key_id and token.payload == statement.payload()

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public key as a JWK Set, for verifying checkpoints outside this service."""
        jwk = {**self._public.as_dict(private=False), "kid": self.key_id, "alg": ALGORITHM, "use": "sig"}
        return {"keys": [jwk]}


def ensure_key_file(path: Path) -> Path:
    """Make a new Ed25519 key at `path` (readable by its owner only) unless one is there."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = OKPKey.generate_key(ALGORITHM).as_pem(private=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
    return path
