"""Client secrets and staff passwords: made random, stored as argon2 hashes.

argon2 (through argon2-cffi) is deliberately slow, which protects the hashes at
rest but would cap token issuance near twenty a second per core. Client secrets
are 256 random bits, not guessable passwords, so after one successful argon2
check a client's secret is remembered as a SHA-256 digest, in memory only, and
later requests compare digests. A changed hash (a new secret) forgets it.
"""

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_verified: dict[str, bytes] = {}  # secret hash -> SHA-256 of the secret that matched it
_REMEMBERED_AT_MOST = 10_000


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    digest = hashlib.sha256(secret.encode()).digest()
    remembered = _verified.get(secret_hash)
    if remembered is not None:
        return hmac.compare_digest(remembered, digest)
    try:
        _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
    if len(_verified) >= _REMEMBERED_AT_MOST:
        _verified.clear()
    _verified[secret_hash] = digest
    return True
