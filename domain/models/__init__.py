"""Tortoise models: the tables of Splitledger. Only services use them; schema/ never does."""

from domain.models.identity import AuthSession, RefreshToken, User
from domain.models.party import Party

__all__ = ["AuthSession", "Party", "RefreshToken", "User"]
