"""Configuration: the only module that reads environment variables."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from auth.encryption import DataKeys
from auth.throttle import DEFAULT_PER_ADDRESS, DEFAULT_PER_EMAIL, LoginThrottle
from auth.tokens import SigningKeys

DEFAULT_DATABASE_URL = "sqlite://splitledger.sqlite3"
# Development-only keys. Production refuses to start while any of them is configured.
DEV_JWT_KEYS = "dev-2026:splitledger-development-signing-key-not-for-production"
DEV_DATA_KEYS = "dev-2026:" + base64.urlsafe_b64encode(b"splitledger-dev-data-key-32bytes").decode()
ENVIRONMENTS = ("development", "production")


class SettingsError(ValueError):
    """The configuration is unusable; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    environment: str = "development"
    jwt_keys: str = DEV_JWT_KEYS
    data_keys: str = DEV_DATA_KEYS
    jwt_issuer: str = "splitledger"
    jwt_audience: str = "splitledger-api"
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=30)
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    max_query_depth: int = 12
    max_aliases: int = 100
    max_tokens: int = 5000
    max_page_size: int = 100
    max_body_bytes: int = 2 * 1024 * 1024
    max_anonymous_body_bytes: int = 64 * 1024
    lockout_attempts: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)
    redis_url: str | None = None
    login_limit_per_address: str = DEFAULT_PER_ADDRESS
    login_limit_per_email: str = DEFAULT_PER_EMAIL
    # Settlement days are local days here (cut-offs themselves are instants).
    settlement_time_zone: str = "Asia/Shanghai"
    signing_keys: SigningKeys = field(init=False, repr=False)
    encryption_keys: DataKeys = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(f"SPLITLEDGER_ENV must be one of {', '.join(ENVIRONMENTS)}, got {self.environment!r}")
        try:
            ZoneInfo(self.settlement_time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"SPLITLEDGER_SETTLEMENT_TIME_ZONE must be an IANA time zone such as Asia/Shanghai, "
                f"got {self.settlement_time_zone!r}"
            ) from None
        jwt_keys = _parse_keys(self.jwt_keys, "SPLITLEDGER_JWT_KEYS", decode=str.encode)
        data_keys = _parse_keys(self.data_keys, "SPLITLEDGER_DATA_KEYS", decode=_b64)
        try:
            object.__setattr__(
                self,
                "signing_keys",
                SigningKeys(
                    keys=jwt_keys,
                    active_kid=next(iter(jwt_keys)),
                    issuer=self.jwt_issuer,
                    audience=self.jwt_audience,
                ),
            )
            object.__setattr__(self, "encryption_keys", DataKeys(keys=data_keys, active_kid=next(iter(data_keys))))
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

    def login_throttle(self) -> LoginThrottle:
        try:
            return LoginThrottle(
                self.redis_url, per_address=self.login_limit_per_address, per_email=self.login_limit_per_email
            )
        except ValueError as exc:
            raise SettingsError(f"SPLITLEDGER_REDIS_URL or SPLITLEDGER_LOGIN_LIMIT_*: {exc}") from None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    def production_problems(self) -> list[str]:
        """What makes this configuration unfit for production (empty when it is fit)."""
        problems = []
        dev_jwt = _parse_keys(DEV_JWT_KEYS, "", decode=str.encode)
        dev_data = _parse_keys(DEV_DATA_KEYS, "", decode=_b64)
        if any(self.signing_keys.keys.get(kid) == key for kid, key in dev_jwt.items()) or set(
            self.signing_keys.keys.values()
        ) & set(dev_jwt.values()):
            problems.append("SPLITLEDGER_JWT_KEYS still holds the development signing key")
        if set(self.encryption_keys.keys.values()) & set(dev_data.values()):
            problems.append("SPLITLEDGER_DATA_KEYS still holds the development data key")
        if "*" in self.cors_origins:
            problems.append("SPLITLEDGER_CORS_ORIGINS must list origins, not '*'")
        return problems

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def integer(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {value}")
            return value

        return cls(
            database_url=env.get("SPLITLEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL,
            environment=env.get("SPLITLEDGER_ENV") or "development",
            jwt_keys=env.get("SPLITLEDGER_JWT_KEYS") or DEV_JWT_KEYS,
            data_keys=env.get("SPLITLEDGER_DATA_KEYS") or DEV_DATA_KEYS,
            jwt_issuer=env.get("SPLITLEDGER_JWT_ISSUER") or "splitledger",
            jwt_audience=env.get("SPLITLEDGER_JWT_AUDIENCE") or "splitledger-api",
            access_token_ttl=timedelta(seconds=integer("SPLITLEDGER_ACCESS_TOKEN_TTL_SECONDS", 900)),
            refresh_token_ttl=timedelta(seconds=integer("SPLITLEDGER_REFRESH_TOKEN_TTL_SECONDS", 30 * 86400)),
            cors_origins=tuple(o.strip() for o in (env.get("SPLITLEDGER_CORS_ORIGINS") or "").split(",") if o.strip()),
            log_level=(env.get("SPLITLEDGER_LOG_LEVEL") or "INFO").upper(),
            max_query_depth=integer("SPLITLEDGER_MAX_QUERY_DEPTH", 12),
            max_aliases=integer("SPLITLEDGER_MAX_ALIASES", 100),
            max_tokens=integer("SPLITLEDGER_MAX_TOKENS", 5000),
            max_page_size=integer("SPLITLEDGER_MAX_PAGE_SIZE", 100),
            max_body_bytes=integer("SPLITLEDGER_MAX_BODY_BYTES", 2 * 1024 * 1024),
            max_anonymous_body_bytes=integer("SPLITLEDGER_MAX_ANONYMOUS_BODY_BYTES", 64 * 1024),
            lockout_attempts=integer("SPLITLEDGER_LOCKOUT_ATTEMPTS", 5),
            lockout_duration=timedelta(minutes=integer("SPLITLEDGER_LOCKOUT_MINUTES", 15)),
            redis_url=env.get("SPLITLEDGER_REDIS_URL") or None,
            login_limit_per_address=env.get("SPLITLEDGER_LOGIN_LIMIT_PER_ADDRESS") or DEFAULT_PER_ADDRESS,
            login_limit_per_email=env.get("SPLITLEDGER_LOGIN_LIMIT_PER_EMAIL") or DEFAULT_PER_EMAIL,
            settlement_time_zone=env.get("SPLITLEDGER_SETTLEMENT_TIME_ZONE") or "Asia/Shanghai",
        )


def _b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode())
    except ValueError:
        raise SettingsError("SPLITLEDGER_DATA_KEYS values must be url-safe base64 of 32 bytes") from None


def _parse_keys(raw: str, name: str, *, decode) -> dict[str, bytes]:
    """'kid1:secret1,kid2:secret2' -> ordered {kid: key}; the first one is the active key."""
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep or not kid or not secret:
            raise SettingsError(f"{name} entries must look like 'key-id:secret', got {item[:12]!r}...")
        if kid in keys:
            raise SettingsError(f"{name} names key id {kid!r} twice")
        keys[kid] = decode(secret)
    if not keys:
        raise SettingsError(f"{name} must name at least one key")
    return keys
