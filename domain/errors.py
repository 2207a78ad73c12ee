"""Domain errors: expected business outcomes with a stable code, a message for people, and the field at fault."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TypeVar


class ErrorCode(enum.StrEnum):
    """Every code a caller can receive. Codes are a public contract: add, never rename."""

    INVALID_INPUT = "INVALID_INPUT"
    INVALID_ID = "INVALID_ID"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_REQUEST = "INVALID_REQUEST"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_NAME = "INVALID_NAME"
    INVALID_CATEGORY = "INVALID_CATEGORY"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_ANCHOR_DAY = "INVALID_ANCHOR_DAY"
    INVALID_DELAY_DAYS = "INVALID_DELAY_DAYS"
    INVALID_HOLD_DAYS = "INVALID_HOLD_DAYS"
    INVALID_ACCOUNT_NUMBER = "INVALID_ACCOUNT_NUMBER"
    WEAK_PASSWORD = "WEAK_PASSWORD"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    ROLE_PARTY_MISMATCH = "ROLE_PARTY_MISMATCH"
    DUPLICATE_NAME = "DUPLICATE_NAME"
    DUPLICATE_EMAIL = "DUPLICATE_EMAIL"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    INVALID_TOKEN = "INVALID_TOKEN"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    MFA_REQUIRED = "MFA_REQUIRED"
    INVALID_MFA_TICKET = "INVALID_MFA_TICKET"
    INVALID_MFA_CODE = "INVALID_MFA_CODE"
    MFA_ALREADY_ENABLED = "MFA_ALREADY_ENABLED"
    MFA_NOT_STARTED = "MFA_NOT_STARTED"
    UNKNOWN_PERMISSION = "UNKNOWN_PERMISSION"
    PERMISSION_NOT_GRANTABLE = "PERMISSION_NOT_GRANTABLE"
    INVALID_EXPIRY = "INVALID_EXPIRY"
    CANNOT_CHANGE_SELF = "CANNOT_CHANGE_SELF"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    INVALID_RULE = "INVALID_RULE"
    INVALID_TIERS = "INVALID_TIERS"
    RATE_ABOVE_100_PERCENT = "RATE_ABOVE_100_PERCENT"
    ABOVE_MERCHANT_SHARE_CAP = "ABOVE_MERCHANT_SHARE_CAP"
    FIXED_FEE_ABOVE_AMOUNT = "FIXED_FEE_ABOVE_AMOUNT"
    INVALID_PAYMENT = "INVALID_PAYMENT"
    RULE_ARCHIVED = "RULE_ARCHIVED"
    DEFAULT_RULE = "DEFAULT_RULE"
    SECOND_APPROVER_REQUIRED = "SECOND_APPROVER_REQUIRED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    DUPLICATE_EXTERNAL_ORDER = "DUPLICATE_EXTERNAL_ORDER"
    MERCHANT_NOT_ALLOWED = "MERCHANT_NOT_ALLOWED"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    CREDENTIAL_TOO_LONG = "CREDENTIAL_TOO_LONG"
    EMAIL_NOT_AVAILABLE = "EMAIL_NOT_AVAILABLE"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_RESERVE = "INVALID_RESERVE"
    INVALID_CUTOFF = "INVALID_CUTOFF"
    INVALID_DELIVERY = "INVALID_DELIVERY"
    UNUSED_CURRENCY = "UNUSED_CURRENCY"
    INVALID_PAYOUT_STATE = "INVALID_PAYOUT_STATE"
    SAME_PERSON = "SAME_PERSON"
    NO_BANK_ACCOUNT = "NO_BANK_ACCOUNT"
    KYC_NOT_VERIFIED = "KYC_NOT_VERIFIED"


class DomainError(Exception):
    """Base of every error a caller can cause; `code` is stable and machine-readable."""

    def __init__(self, code: ErrorCode | str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)  # an unknown code is a bug, caught here rather than by a client
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The input breaks a rule (format, range, currency, ...); nothing was written."""


class NotFound(DomainError):
    """The thing does not exist, or the caller may not see it (the two are indistinguishable)."""

    def __init__(self, what: str, *, field: str | None = "id") -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found", field=field)


class AlreadyExists(DomainError):
    """A uniqueness rule would be broken (a name, an external id, an email)."""


class Forbidden(DomainError):
    """The caller is authenticated but lacks a permission for this action."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.FORBIDDEN, message)


class MfaRequired(DomainError):
    """The action is sensitive and this session has not passed two-factor login."""

    def __init__(self, action: str) -> None:
        super().__init__(ErrorCode.MFA_REQUIRED, f"{action} needs a session that passed two-factor login")


class AuthenticationFailed(DomainError):
    """Credentials or token were wrong, expired or revoked; deliberately vague."""

    def __init__(
        self, message: str = "invalid credentials", *, code: ErrorCode | str = ErrorCode.AUTHENTICATION_FAILED
    ) -> None:
        super().__init__(code, message)


class InvalidFields(InvalidInput):
    """Several fields are wrong at once: the first one's code, message and field, and all of them in `errors`, so
    a form can show every mistake after one request."""

    def __init__(self, errors: Sequence[InvalidInput]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, field=first.field)
        self.errors = tuple(errors)


T = TypeVar("T")


class FieldErrors:
    """Collects the InvalidInput of each check instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[InvalidInput] = []

    def check(self, compute: Callable[[], T]) -> T | None:
        try:
            return compute()
        except InvalidInput as exc:
            self.errors.extend(exc.errors if isinstance(exc, InvalidFields) else (exc,))
            return None

    def raise_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise InvalidFields(self.errors)
