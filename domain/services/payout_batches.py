"""The bank file: every approved payout, exported once into a batch and marked SENT, as CSV for the bank.

A batch is named by its idempotency key: the same key again returns the same batch and the same file, marking
nothing. Concurrent exports never share a payout: each takes the approved rows it can lock and skips the ones
another export holds (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite runs one transaction at a time). A payout whose
approval no longer holds (approval_lapsed) is left out and returns to PENDING_APPROVAL.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.errors import ErrorCode, InvalidInput
from domain.models import Party, Payout, PayoutBatch
from domain.money import Money
from domain.parties import PartyKind
from domain.services import auth_events
from domain.services.authorization import require
from domain.services.parties import BANK_ACCOUNT_PURPOSE
from domain.services.payouts import (
    PayoutStatus,
    approval_lapsed,
    payout_reference,
    require_person,
    send_payouts,
    withdraw_approval,
)
from domain.services.runtime import Runtime

MAX_IDEMPOTENCY_KEY = 128  # payout_batches.idempotency_key
# A batch takes at most this many approved payouts, oldest first; exporting again (with a new key) takes the rest.
MAX_BATCH_PAYOUTS = 1000

# The bank file's columns, in order (RFC 4180 CSV, CRLF line ends, a header row).
CSV_COLUMNS = (
    "payout_id",  # the payout's global id (Payout:<n>, base64)
    "party_id",  # the party's global id, typed by its kind (Merchant:<n>, LogisticsPartner:<n>, ...)
    "party_name",
    "account_holder",
    "bank_name",
    "account_number",  # in full (decrypted): the file needs pii:reveal
    "currency",  # ISO 4217
    "amount",  # major units, exactly the currency's decimals ("150.00")
    "reference",  # SPLITLEDGER-PAYOUT-<n>: the text the transfer carries, for reconciliation
)
_PARTY_TYPE_NAMES = {
    PartyKind.PLATFORM: "Platform",
    PartyKind.MERCHANT: "Merchant",
    PartyKind.LOGISTICS: "LogisticsPartner",
    PartyKind.SUPPLIER: "Supplier",
}
# A cell starting with one of these is a formula to a spreadsheet (CSV injection): it gets a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportedBatch:
    batch: PayoutBatch
    payouts: list[Payout]  # in the file's order
    csv_text: str
    replayed: bool  # True: the key had been used; nothing was marked this time

    @property
    def totals_minor(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for payout in self.payouts:
            totals[payout.currency] = totals.get(payout.currency, 0) + payout.amount_minor
        return dict(sorted(totals.items()))


def global_id(type_name: str, row_id: int) -> str:
    """The same text as a GraphQL global id (relay: base64 of "Type:id")."""
    return base64.b64encode(f"{type_name}:{row_id}".encode()).decode()


def _checked_key(idempotency_key: str) -> str:
    key = idempotency_key.strip()
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInput(
            ErrorCode.INVALID_INPUT,
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            field="idempotencyKey",
        )
    return key


async def export_payout_batch(principal: Principal, runtime: Runtime, idempotency_key: str) -> ExportedBatch:
    """Puts every APPROVED payout not yet in a batch (at most MAX_BATCH_PAYOUTS, oldest first) into a new batch,
    marks them SENT with their ledger entries, and returns the bank file (CSV_COLUMNS). A payout whose approval
    no longer holds is left out and returns to PENDING_APPROVAL. The same key again returns the same batch and
    file, marking nothing. Concurrent exports never share a payout: each takes the rows it locks and skips the
    ones another has locked; of two exports with one key, the unique key lets one in and the other replays it."""
    require(principal, "payouts:approve")
    require(principal, "pii:reveal")
    require_person(principal, "exporting payouts")
    key = _checked_key(idempotency_key)
    existing = await readable(principal, PayoutBatch).get_or_none(idempotency_key=key)
    if existing is not None:
        return await _replay(principal, runtime, existing)
    now = runtime.now()
    try:
        async with in_transaction():
            # The batch first: a concurrent export with the same key waits here, then fails and replays this one.
            batch = await PayoutBatch.create(
                idempotency_key=key, created_by_user_id=principal.user_id, created_at=now, payout_count=0
            )
            approved = (
                await writable(principal, Payout)
                .filter(status=PayoutStatus.APPROVED, batch_id__isnull=True)
                .order_by("id")
                .limit(MAX_BATCH_PAYOUTS)
                .select_for_update(skip_locked=True, no_key=True)
            )
            parties = await _parties_of(approved)
            sendable = []
            for payout in approved:
                lapsed = approval_lapsed(payout, parties[payout.party_id])
                if lapsed is None:
                    sendable.append(payout)
                else:
                    await withdraw_approval(principal, payout, lapsed)
            if sendable:
                await send_payouts(principal, sendable, now, batch.id)
            batch.payout_count = len(sendable)
            await batch.save(update_fields=["payout_count"])
            await auth_events.record(
                "payout_batch_exported",
                actor=principal,
                party_id=principal.party_id,
                detail=f"batch {batch.id}: {len(sendable)} payouts with their full bank account numbers",
            )
    except IntegrityError:
        existing = await readable(principal, PayoutBatch).get_or_none(idempotency_key=key)
        if existing is None:
            raise
        return await _replay(principal, runtime, existing)
    return ExportedBatch(batch, sendable, _csv_text(sendable, parties, runtime), replayed=False)


async def _replay(principal: Principal, runtime: Runtime, batch: PayoutBatch) -> ExportedBatch:
    """The batch's file again, from its payouts. Refused when a party's bank account changed since the export:
    the file would name an account that nobody approved and that the money was not sent to."""
    payouts = await writable(principal, Payout).filter(batch_id=batch.id).order_by("id")
    parties = await _parties_of(payouts)
    changed = sorted(
        party.name
        for party in parties.values()
        if party.bank_account_changed_at is not None and party.bank_account_changed_at > batch.created_at
    )
    if changed:
        raise InvalidInput(
            ErrorCode.INVALID_PAYOUT_STATE,
            f"batch {batch.id} cannot be produced again: the bank account of {', '.join(changed)} changed after it "
            f"was exported",
            field="idempotencyKey",
        )
    await auth_events.record(
        "payout_batch_replayed",
        actor=principal,
        party_id=principal.party_id,
        detail=f"batch {batch.id}: {len(payouts)} payouts with their full bank account numbers",
    )
    return ExportedBatch(batch, list(payouts), _csv_text(payouts, parties, runtime), replayed=True)


async def _parties_of(payouts: Iterable[Payout]) -> dict[int, Party]:
    ids = sorted({payout.party_id for payout in payouts})
    return {party.id: party for party in await Party.filter(id__in=ids)} if ids else {}


def _cell(text: str | None) -> str:
    value = text or ""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _csv_text(payouts: Sequence[Payout], parties: dict[int, Party], runtime: Runtime) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for payout in payouts:
        party = parties[payout.party_id]
        ciphertext = party.bank_account_ciphertext
        writer.writerow(
            (
                global_id("Payout", payout.id),
                global_id(_PARTY_TYPE_NAMES[PartyKind(party.kind)], party.id),
                _cell(party.name),
                _cell(party.bank_account_holder),
                _cell(party.bank_name),
                runtime.data_keys.decrypt(ciphertext, purpose=BANK_ACCOUNT_PURPOSE) if ciphertext else "",
                payout.currency,
                Money(payout.amount_minor, payout.currency).format(),
                payout_reference(payout.id),
            )
        )
    return out.getvalue()
