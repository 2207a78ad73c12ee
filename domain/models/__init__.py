"""Tortoise models: the tables of Splitledger. Only services use them; schema/ never does."""

from domain.models.access import ApiKey, AuthEvent, PlatformSetting
from domain.models.disputes import Dispute
from domain.models.identity import AuthSession, MfaTicket, RecoveryCode, RefreshToken, User
from domain.models.ledger import AppendOnlyViolation, JournalEntry, LedgerAccount, Posting
from domain.models.party import Party
from domain.models.payments import Allocation, Payment, PaymentLine
from domain.models.refunds import Refund, RefundReversal
from domain.models.rules import SplitRule, SplitRuleVersion
from domain.models.settlement import Delivery, Payout, PayoutBatch, Release, Settlement, SettlementLine, SettlementRun

__all__ = [
    "Allocation",
    "ApiKey",
    "AppendOnlyViolation",
    "AuthEvent",
    "AuthSession",
    "Delivery",
    "Dispute",
    "JournalEntry",
    "LedgerAccount",
    "MfaTicket",
    "Party",
    "Payment",
    "PaymentLine",
    "Payout",
    "PayoutBatch",
    "PlatformSetting",
    "Posting",
    "RecoveryCode",
    "RefreshToken",
    "Refund",
    "RefundReversal",
    "Release",
    "Settlement",
    "SettlementLine",
    "SettlementRun",
    "SplitRule",
    "SplitRuleVersion",
    "User",
]
