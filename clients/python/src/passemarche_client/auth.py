"""The access token cache: one token reused until shortly before it expires, then renewed; a
401 from the API drops it so that the next call asks for a new one (once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from passemarche_client.models import Token


class TokenCache:
    """`fetch` asks the token endpoint; it is called under a lock, so concurrent threads of one
    client share one request. Tokens are renewed `renew_before` seconds before they expire."""

    def __init__(
        self,
        fetch: Callable[[], Token],
        renew_before: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._renew_before = renew_before
        self._clock = clock
        self._token: Token | None = None
        self._lock = threading.Lock()

    def get(self) -> Token:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - self._renew_before:
                token = self._token = self._fetch()
            return token

    def invalidate(self, token: Token | None = None) -> None:
        """Forget the token (only if it is still `token`: another thread may have renewed it)."""
        with self._lock:
            if token is None or self._token is token:
                self._token = None

    @property
    def current(self) -> Token | None:
        return self._token
