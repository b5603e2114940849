"""Hashing of long random secrets (client secrets, access tokens) before they are stored.

SHA-256 is enough for 256-bit random strings: nobody can brute-force them, and a slow KDF would
cost hundreds of milliseconds per token request for no gain.
"""

from __future__ import annotations

import hashlib
import hmac


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
