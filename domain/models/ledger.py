"""The double-entry ledger: accounts with a cached balance, journal entries and their postings (append-only)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AppendOnlyViolation(Exception):
    """A money row was about to be changed or deleted: corrections are new rows (a reversing entry)."""


class LedgerAccount(Model):
    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=120, unique=True)  # e.g. party:12:CNY:PENDING, system:PSP_CLEARING:CNY
    party: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "splitledger.Party", related_name="ledger_accounts", on_delete=fields.RESTRICT, null=True
    )
    party_id: int | None
    system = fields.CharField(max_length=40, null=True)
    currency = fields.CharField(max_length=3)
    bucket = fields.CharField(max_length=16, null=True)
    # Sum of the account's postings, kept in the same transaction as each posting; verifyLedger checks it.
    balance_minor = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_accounts"
        # Release and settlement find a chunk of parties' accounts of a bucket.
        indexes = (("party_id", "bucket", "currency"),)


class _AppendOnly(Model):
    """Rows that are inserted and never changed: the money tables (ledger entries, postings, allocations,
    payment lines). The database refuses too (migrations 0004 and 0005); this stops the ORM paths early with
    an error that says why. bulk_create() inserts without save(), so it is unaffected."""

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._saved_in_db:
            await super().save(*args, **kwargs)
            return
        raise AppendOnlyViolation(f"{type(self).__name__} rows are never updated")

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnlyViolation(f"{type(self).__name__} rows are never deleted")

    class Meta:
        abstract = True


class JournalEntry(_AppendOnly):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=40)
    payment_id = fields.BigIntField(null=True, db_index=True)
    memo = fields.CharField(max_length=400, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "journal_entries"


class Posting(_AppendOnly):
    id = fields.BigIntField(primary_key=True)
    entry: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.JournalEntry", related_name="postings", on_delete=fields.RESTRICT
    )
    entry_id: int
    account: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.LedgerAccount", related_name="postings", on_delete=fields.RESTRICT
    )
    account_id: int
    party_id = fields.BigIntField(null=True, db_index=True)  # the account's owner, for scoping and sharding
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()  # debit positive, credit negative
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "postings"
        # Settlement reads an account's postings up to an instant (statement windows, balances at a time), and
        # an entry's postings (a statement's own entries; verifyLedger).
        indexes = (("account_id", "created_at"), ("entry_id",))
