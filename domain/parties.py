"""Parties that share a payment (platform, merchants, logistics partners, suppliers) and their settlement terms."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.money import Money


class PartyKind(enum.StrEnum):
    PLATFORM = "PLATFORM"
    MERCHANT = "MERCHANT"
    LOGISTICS = "LOGISTICS"
    SUPPLIER = "SUPPLIER"


class MerchantTier(enum.StrEnum):
    STANDARD = "STANDARD"
    SILVER = "SILVER"
    GOLD = "GOLD"
    PLATINUM = "PLATINUM"


class KycStatus(enum.StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    SUSPENDED = "SUSPENDED"


class RiskLevel(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class SettlementCycle(enum.StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


MAX_NAME_LENGTH = 200
MAX_DELAY_DAYS = 90
MAX_HOLD_DAYS = 180
MAX_RESERVE_BPS = 5_000  # a rolling reserve holds back at most half of a period's releases
MAX_RESERVE_DAYS = 180


def normalize_name(name: str, *, field: str = "name") -> str:
    """Trims and validates a display name; returns it with inner white space folded."""
    folded = " ".join(name.split())
    if not folded:
        raise InvalidInput("INVALID_NAME", f"{field} must not be empty", field=field)
    if len(folded) > MAX_NAME_LENGTH:
        raise InvalidInput(
            "INVALID_NAME",
            f"{field} is {len(folded)} characters; at most {MAX_NAME_LENGTH} are allowed",
            field=field,
        )
    return folded


def name_key(name: str) -> str:
    """The form under which two names count as the same (case and spacing ignored)."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True, slots=True)
class SettlementProfile:
    """When and how a party is paid: currency, cycle with its anchor day, T+N delay, minimum, hold, and an optional
    rolling reserve (a share of each period's releases held back for `reserve_days`)."""

    currency: str
    cycle: SettlementCycle
    anchor_day: int
    delay_days: int
    minimum_payout: Money
    hold_days: int
    reserve_bps: int = 0
    reserve_days: int = 0

    def __post_init__(self) -> None:
        field = "settlementProfile"
        if self.minimum_payout.currency != self.currency:
            raise InvalidInput(
                "CURRENCY_MISMATCH",
                f"{field}.minimumPayout is in "
                f"{self.minimum_payout.currency} but the profile settles in {self.currency}",
                field=f"{field}.minimumPayout",
            )
        if self.minimum_payout.amount_minor < 0:
            raise InvalidInput(
                "NEGATIVE_AMOUNT",
                f"{field}.minimumPayout must be zero or more",
                field=f"{field}.minimumPayout",
            )
        anchor_range = {
            SettlementCycle.DAILY: (0, 0),
            SettlementCycle.WEEKLY: (1, 7),
            SettlementCycle.MONTHLY: (1, 31),
        }[self.cycle]
        if not anchor_range[0] <= self.anchor_day <= anchor_range[1]:
            raise InvalidInput(
                "INVALID_ANCHOR_DAY",
                f"{field}.anchorDay {self.anchor_day} is not valid for a {self.cycle} cycle: use "
                f"{anchor_range[0]}..{anchor_range[1]}"
                + (" (1 = Monday)" if self.cycle is SettlementCycle.WEEKLY else "")
                + (" (29-31 fall back to a shorter month's last day)" if self.cycle is SettlementCycle.MONTHLY else ""),
                field=f"{field}.anchorDay",
            )
        if not 0 <= self.delay_days <= MAX_DELAY_DAYS:
            raise InvalidInput(
                "INVALID_DELAY_DAYS",
                f"{field}.delayDays must be 0..{MAX_DELAY_DAYS}, got {self.delay_days}",
                field=f"{field}.delayDays",
            )
        if not 0 <= self.hold_days <= MAX_HOLD_DAYS:
            raise InvalidInput(
                "INVALID_HOLD_DAYS",
                f"{field}.holdDays must be 0..{MAX_HOLD_DAYS}, got {self.hold_days}",
                field=f"{field}.holdDays",
            )
        if not 0 <= self.reserve_bps <= MAX_RESERVE_BPS:
            raise InvalidInput(
                "INVALID_RESERVE",
                f"{field}.reserveBps must be 0..{MAX_RESERVE_BPS} (0 to 50 %), got {self.reserve_bps}",
                field=f"{field}.reserveBps",
            )
        if not 0 <= self.reserve_days <= MAX_RESERVE_DAYS or (self.reserve_bps > 0) != (self.reserve_days > 0):
            raise InvalidInput(
                "INVALID_RESERVE",
                f"{field}.reserveDays must be 1..{MAX_RESERVE_DAYS} with a reserve and 0 without one, "
                f"got {self.reserve_days} days for {self.reserve_bps} bps",
                field=f"{field}.reserveDays",
            )


def default_settlement_profile(currency: str = "CNY") -> SettlementProfile:
    """T+1 daily settlement, no minimum, seven days' hold: what a new party gets unless told otherwise."""
    return SettlementProfile(
        currency=currency,
        cycle=SettlementCycle.DAILY,
        anchor_day=0,
        delay_days=1,
        minimum_payout=Money(0, currency),
        hold_days=7,
    )


def mask_account_number(last4: str) -> str:
    """What everyone without pii:reveal sees of a bank account number."""
    return f"****{last4}"


def validate_account_number(account_number: str, *, field: str = "bankAccount.accountNumber") -> str:
    """Bank account numbers / IBANs: letters and digits only once spaces are dropped, 6 to 34 long."""
    compact = "".join(account_number.split()).upper()
    if not compact.isalnum() or not compact.isascii() or not 6 <= len(compact) <= 34:
        raise InvalidInput(
            "INVALID_ACCOUNT_NUMBER",
            f"{field} must be 6 to 34 letters and digits (spaces allowed between groups)",
            field=field,
        )
    return compact
