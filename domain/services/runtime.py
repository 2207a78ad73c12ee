"""What services need from the outside world besides the database: keys, lifetimes and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from auth.encryption import DataKeys
from auth.throttle import LoginThrottle
from auth.tokens import SigningKeys


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    signing_keys: SigningKeys
    data_keys: DataKeys
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=30)
    max_page_size: int = 100
    lockout_attempts: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    clock: Callable[[], datetime] = field(default=utc_now)
    settlement_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))

    def now(self) -> datetime:
        return self.clock()
