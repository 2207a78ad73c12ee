"""Tortoise models: the tables of Splitledger. Only services use them; schema/ never does."""

from domain.models.access import ApiKey, AuthEvent, PlatformSetting
from domain.models.identity import AuthSession, MfaTicket, RecoveryCode, RefreshToken, User
from domain.models.party import Party

__all__ = [
    "ApiKey",
    "AuthEvent",
    "AuthSession",
    "MfaTicket",
    "Party",
    "PlatformSetting",
    "RecoveryCode",
    "RefreshToken",
    "User",
]
