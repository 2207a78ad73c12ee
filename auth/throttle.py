"""Throttling of login attempts per client address and per email, with the `limits` library.

The account lockout stops guessing one account; this stops one client from trying many accounts, and slows a
stranger who locks someone out on purpose. Counters live in the process by default, or in Redis (shared by every
process) when a URL is configured. Throttled attempts are refused before the account's own counter is touched.
"""

from __future__ import annotations

import hashlib
import logging

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

logger = logging.getLogger("splitledger.throttle")

DEFAULT_PER_ADDRESS = "30/minute;300/hour"
DEFAULT_PER_EMAIL = "10/minute;60/hour"
# createUser answers "not available" for an email of another party's user; a caller who gets that answer this
# often may create no user for a while, so addresses cannot be enumerated through it.
DEFAULT_EMAIL_PROBES_PER_ACTOR = "5/hour;20/day"


class LoginThrottle:
    def __init__(
        self,
        storage_url: str | None = None,
        *,
        per_address: str = DEFAULT_PER_ADDRESS,
        per_email: str = DEFAULT_PER_EMAIL,
        namespace: str = "splitledger-login",
    ) -> None:
        self.storage_url = storage_url or "memory://"
        scheme = self.storage_url if self.storage_url.startswith("async+") else f"async+{self.storage_url}"
        self._limiter = MovingWindowRateLimiter(storage_from_string(scheme))
        self._per_address: list[RateLimitItem] = parse_many(per_address)
        self._per_email: list[RateLimitItem] = parse_many(per_email)
        self._namespace = namespace
        self._email_probes: list[RateLimitItem] = parse_many(DEFAULT_EMAIL_PROBES_PER_ACTOR)

    async def may_probe_emails(self, actor: str) -> bool:
        """False while `actor` has used up its "email not available" answers: it may then create no user at all,
        so whether an address exists stays unknown to it."""
        try:
            for item in self._email_probes:
                if not await self._limiter.test(item, self._namespace, f"probe:{actor}"):
                    return False
            return True
        except Exception as exc:
            logger.warning("login throttle unavailable, admitting: %s", exc)
            return True

    async def count_email_probe(self, actor: str) -> None:
        try:
            for item in self._email_probes:
                await self._limiter.hit(item, self._namespace, f"probe:{actor}")
        except Exception as exc:
            logger.warning("login throttle unavailable, not counting: %s", exc)

    async def admit(self, *, address: str | None, email: str | None) -> bool:
        """Counts one attempt from `address`, then tells whether `email` may be tried: false when either is over
        its limits. An attempt the address limit refused never reaches the email's count, so one client cannot
        use up someone's email budget; the email counts failures only (count_failure), so the owner's own right
        passwords never throttle it."""
        try:
            if address:
                for item in self._per_address:
                    if not await self._limiter.hit(item, self._namespace, f"address:{address}"):
                        return False
            if email:
                for item in self._per_email:
                    if not await self._limiter.test(item, self._namespace, self._email_key(email)):
                        return False
            return True
        except Exception as exc:
            # The throttle is a second line: when its store is down the account lockout still holds, and
            # nobody is locked out of the service by a Redis outage.
            logger.warning("login throttle unavailable, admitting: %s", exc)
            return True

    async def count_failure(self, email: str) -> None:
        """A wrong password (or an unknown email) for `email`: counts toward the email's limits."""
        try:
            for item in self._per_email:
                await self._limiter.hit(item, self._namespace, self._email_key(email))
        except Exception as exc:
            logger.warning("login throttle unavailable, not counting: %s", exc)

    @staticmethod
    def _email_key(email: str) -> str:
        # Hashed, so that Redis never holds the addresses people typed.
        return f"email:{hashlib.sha256(email.encode()).hexdigest()[:32]}"
