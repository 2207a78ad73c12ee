"""Tortoise models: the tables of Splitledger. Only services use them; schema/ never does."""

from domain.models.access import ApiKey, AuthEvent, PlatformSetting
from domain.models.identity import AuthSession, MfaTicket, RecoveryCode, RefreshToken, User
from domain.models.ledger import AppendOnlyViolation, JournalEntry, LedgerAccount, Posting
from domain.models.party import Party
from domain.models.payments import Allocation, Payment, PaymentLine
from domain.models.rules import SplitRule, SplitRuleVersion

__all__ = [
    "Allocation",
    "ApiKey",
    "AppendOnlyViolation",
    "AuthEvent",
    "AuthSession",
    "JournalEntry",
    "LedgerAccount",
    "MfaTicket",
    "Party",
    "Payment",
    "PaymentLine",
    "PlatformSetting",
    "Posting",
    "RecoveryCode",
    "RefreshToken",
    "SplitRule",
    "SplitRuleVersion",
    "User",
]
