"""Payouts: approving them (maker-checker, and two people for a bank account changed recently), sending,
confirming and failing them, and reading them in scope. The bank file of approved payouts is in payout_batches.

A payout is PENDING_APPROVAL -> APPROVED -> SENT -> PAID, or FAILED from any state before PAID. Each transition
locks the payout row, posts its ledger entry through the one posting path in the same transaction (sent:
SETTLING -> payouts in transit; paid: in transit -> out of PSP clearing; failed: back to AVAILABLE), and writes
an auth event naming the actor and the payout. Repeating a transition that already happened (sent again, paid
again with the same reference, failed again) returns the payout unchanged and posts nothing.

An approval holds for the bank account it was given for: when the party's account changed after the approval,
or the party can no longer be paid (no account, a merchant whose KYC is no longer VERIFIED), sending returns the
payout to PENDING_APPROVAL instead, to be approved again.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.errors import ErrorCode, InvalidInput, MfaRequired, NotFound
from domain.ledger import Bucket, confirm_payout, fail_payout, party_account, send_payout
from domain.models import AuthEvent, Party, Payout
from domain.money import Money
from domain.parties import KycStatus, PartyKind
from domain.services import auth_events, platform_settings
from domain.services.authorization import require
from domain.services.ledger import AtLeast, post_entries
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime


class PayoutStatus(enum.StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    SENT = "SENT"
    PAID = "PAID"
    FAILED = "FAILED"


PENDING_APPROVAL, APPROVED, SENT, PAID, FAILED = PayoutStatus

# Each status, and the statuses it may be reached from.
SOURCES: dict[PayoutStatus, tuple[PayoutStatus, ...]] = {
    APPROVED: (PENDING_APPROVAL,),
    SENT: (APPROVED,),
    PAID: (SENT,),
    FAILED: (PENDING_APPROVAL, APPROVED, SENT),
}

MAX_BANK_REFERENCE = 128  # payouts.bank_reference
MAX_FAILURE_REASON = 400  # payouts.failure_reason


@dataclass(frozen=True)
class Approval:
    payout: Payout
    approvals_remaining: int  # 0: APPROVED; 1: a second person must approve too


def payout_reference(payout_id: int) -> str:
    """The text a transfer carries, so a bank statement line can be matched to its payout."""
    return f"SPLITLEDGER-PAYOUT-{payout_id}"


def _money(payout: Payout) -> str:
    return f"{Money(payout.amount_minor, payout.currency).format()} {payout.currency}"


def _state_error(payout: Payout, target: PayoutStatus) -> InvalidInput:
    allowed = " or ".join(SOURCES[target])
    return InvalidInput(
        ErrorCode.INVALID_PAYOUT_STATE,
        f"payout {payout.id} is {payout.status}; it can become {target} only from {allowed}",
        field="payoutId",
    )


def require_person(principal: Principal, action: str) -> None:
    """Money leaves on a person's word, in a two-factor session, never an API key's (payouts:approve cannot be
    granted to a key; this holds even if it were)."""
    if principal.user_id is None or not principal.mfa_passed:
        raise MfaRequired(f"{action}, by a person and never by an API key,")


async def _locked(principal: Principal, payout_id: int) -> Payout:
    payout = await writable(principal, Payout).select_for_update(no_key=True).get_or_none(id=payout_id)
    if payout is None:
        raise NotFound("payout", field="payoutId")
    return payout


def _why_unpayable(party: Party) -> InvalidInput | None:
    if party.bank_account_ciphertext is None:
        return InvalidInput(
            ErrorCode.NO_BANK_ACCOUNT, f"{party.name} has no bank account to pay into; set one first", field="payoutId"
        )
    if party.kind == PartyKind.MERCHANT and party.kyc_status != KycStatus.VERIFIED:
        return InvalidInput(
            ErrorCode.KYC_NOT_VERIFIED,
            f"{party.name}'s KYC status is {party.kyc_status}; only a VERIFIED merchant is paid",
            field="payoutId",
        )
    return None


def _changed_recently(party: Party, now: datetime, hours: int) -> bool:
    changed_at = party.bank_account_changed_at
    return hours > 0 and changed_at is not None and now - changed_at < timedelta(hours=hours)


def approval_lapsed(payout: Payout, party: Party) -> str | None:
    """Why the approval no longer holds, if it does not: what was approved is not what would be paid."""
    unpayable = _why_unpayable(party)
    if unpayable is not None:
        return unpayable.message
    changed_at, approved_at = party.bank_account_changed_at, payout.approved_at
    if changed_at is not None and approved_at is not None and changed_at > approved_at:
        return f"{party.name}'s bank account changed after the payout was approved"
    return None


# --- approving --------------------------------------------------------------------------------------------


async def approve_payout(principal: Principal, runtime: Runtime, payout_id: int) -> Approval:
    """Approves a PENDING_APPROVAL payout. The party must have a bank account and, for a merchant, a VERIFIED KYC
    status. Above the platform's threshold for the payout's currency (or in a currency without one) the approver
    must not be the person who started the settlement run. A payout to a bank account changed within the
    platform's `payout_bank_change_hours` takes two approvals by two people, whatever its amount: the first is
    recorded and the payout stays PENDING_APPROVAL until the second."""
    require(principal, "payouts:approve")
    require_person(principal, "approving a payout")
    settings = await platform_settings.current()
    now = runtime.now()
    async with in_transaction():
        payout = await _locked(principal, payout_id)
        if payout.status != PENDING_APPROVAL:
            raise _state_error(payout, APPROVED)
        party = await Party.filter(id=payout.party_id).select_for_update(no_key=True).get()
        unpayable = _why_unpayable(party)
        if unpayable is not None:
            raise unpayable
        threshold = settings.payout_approval_thresholds.get(payout.currency)
        above_threshold = threshold is None or payout.amount_minor > threshold
        if above_threshold and payout.started_by_user_id == principal.user_id:
            above = (
                f"above the approval threshold of {Money(threshold, payout.currency).format()} {payout.currency}"
                if threshold is not None
                else f"in {payout.currency}, which has no approval threshold"
            )
            raise InvalidInput(
                ErrorCode.SAME_PERSON,
                f"payout {payout.id} of {_money(payout)} is {above}: someone other than the person who started "
                f"its settlement run must approve it",
                field="payoutId",
            )
        # Two people: after a recent bank account change, and above the threshold when no person started the run
        # (the worker or an API key did), so that one person alone never sends a large payout.
        unattended = above_threshold and payout.started_by_user_id is None
        needed = 2 if unattended or _changed_recently(party, now, settings.payout_bank_change_hours) else 1
        if needed == 2 and payout.first_approved_by_user_id is None:
            payout.approvals_needed, payout.first_approved_by_user_id = 2, principal.user_id
            await payout.save(update_fields=["approvals_needed", "first_approved_by_user_id", "updated_at"])
            await _record("payout_first_approval", principal, payout, "a second person must approve it too")
            return Approval(payout, approvals_remaining=1)
        if needed == 2 and payout.first_approved_by_user_id == principal.user_id:
            why = (
                "it is above the approval threshold and no person started its settlement run"
                if unattended
                else f"the bank account of {party.name} changed within the last "
                f"{settings.payout_bank_change_hours} hours"
            )
            raise InvalidInput(
                ErrorCode.SAME_PERSON,
                f"payout {payout.id} needs a second approval, by someone other than you: {why}",
                field="payoutId",
            )
        payout.approvals_needed = needed
        payout.status, payout.approved_by_user_id, payout.approved_at = APPROVED, principal.user_id, now
        await payout.save(
            update_fields=["approvals_needed", "status", "approved_by_user_id", "approved_at", "updated_at"]
        )
        await _record("payout_approved", principal, payout, f"{PENDING_APPROVAL} -> {APPROVED}")
    return Approval(payout, approvals_remaining=0)


async def withdraw_approval(principal: Principal, payout: Payout, reason: str) -> None:
    """Back to PENDING_APPROVAL, every approval forgotten: what was approved is not what would be paid."""
    payout.status, payout.approvals_needed = PENDING_APPROVAL, 1
    payout.first_approved_by_user_id = payout.approved_by_user_id = payout.approved_at = None
    await payout.save(
        update_fields=[
            "status",
            "approvals_needed",
            "first_approved_by_user_id",
            "approved_by_user_id",
            "approved_at",
            "updated_at",
        ]
    )
    await _record("payout_approval_withdrawn", principal, payout, f"not sent: {reason}")


# --- sending, confirming, failing -------------------------------------------------------------------------


async def send_payouts(principal: Principal, payouts: Sequence[Payout], now: datetime, batch_id: int | None) -> None:
    """SENT, with one PAYOUT_SENT entry each (posted together); the parties' SETTLING accounts must hold them."""
    needed: dict[tuple[int, str], int] = {}
    for payout in payouts:
        needed[(payout.party_id, payout.currency)] = (
            needed.get((payout.party_id, payout.currency), 0) + payout.amount_minor
        )
    await post_entries(
        [send_payout(p.party_id, p.currency, p.amount_minor, memo=f"payout {p.id}") for p in payouts],
        at_least=[
            AtLeast(party_account(party_id, currency, Bucket.SETTLING), amount)
            for (party_id, currency), amount in sorted(needed.items())
        ],
        posted_at=now,
    )
    await Payout.filter(id__in=[p.id for p in payouts]).update(
        status=SENT, sent_at=now, batch_id=batch_id, updated_at=now
    )
    for payout in payouts:
        payout.status, payout.sent_at, payout.batch_id = SENT, now, batch_id
    detail = f"{APPROVED} -> {SENT}" + (f" in batch {batch_id}" if batch_id is not None else "")
    await AuthEvent.bulk_create([_event_row("payout_sent", principal, payout, detail) for payout in payouts])


async def mark_payout_sent(principal: Principal, runtime: Runtime, payout_id: int) -> Payout:
    """APPROVED -> SENT (the transfer was ordered outside a batch file); a SENT payout is returned as it is.
    When the approval no longer holds (see the module's docstring), the payout returns to PENDING_APPROVAL and
    INVALID_PAYOUT_STATE says why."""
    require(principal, "payouts:approve")
    require_person(principal, "sending a payout")
    lapsed: str | None = None
    async with in_transaction():
        payout = await _locked(principal, payout_id)
        if payout.status == SENT:
            return payout
        if payout.status != APPROVED:
            raise _state_error(payout, SENT)
        lapsed = approval_lapsed(payout, await Party.get(id=payout.party_id))
        if lapsed is None:
            await send_payouts(principal, [payout], runtime.now(), None)
        else:
            await withdraw_approval(principal, payout, lapsed)
    if lapsed is not None:
        raise InvalidInput(
            ErrorCode.INVALID_PAYOUT_STATE,
            f"payout {payout.id} was not sent: {lapsed}; it is {PENDING_APPROVAL} again and needs a new approval",
            field="payoutId",
        )
    return payout


def _checked_reference(bank_reference: str) -> str:
    reference = bank_reference.strip()
    if not 1 <= len(reference) <= MAX_BANK_REFERENCE or not reference.isprintable():
        raise InvalidInput(
            ErrorCode.INVALID_INPUT,
            f"bankReference must be 1 to {MAX_BANK_REFERENCE} printable characters",
            field="bankReference",
        )
    return reference


async def mark_payout_paid(principal: Principal, runtime: Runtime, payout_id: int, bank_reference: str) -> Payout:
    """SENT -> PAID: the bank confirmed the transfer, under `bank_reference`. Paid again with the same reference,
    the payout is returned as it is; with another reference it is refused."""
    require(principal, "payouts:approve")
    require_person(principal, "confirming a payout")
    reference = _checked_reference(bank_reference)
    now = runtime.now()
    async with in_transaction():
        payout = await _locked(principal, payout_id)
        if payout.status == PAID and payout.bank_reference == reference:
            return payout
        if payout.status == PAID:
            raise InvalidInput(
                ErrorCode.INVALID_PAYOUT_STATE,
                f"payout {payout.id} is already {PAID} with the bank reference {payout.bank_reference!r}",
                field="bankReference",
            )
        if payout.status != SENT:
            raise _state_error(payout, PAID)
        await post_entries(
            [confirm_payout(payout.currency, payout.amount_minor, memo=f"payout {payout.id}")], posted_at=now
        )
        payout.status, payout.paid_at, payout.bank_reference = PAID, now, reference
        await payout.save(update_fields=["status", "paid_at", "bank_reference", "updated_at"])
        await _record("payout_paid", principal, payout, f"{SENT} -> {PAID}, bank reference {reference}")
    return payout


def _checked_reason(reason: str) -> str:
    folded = " ".join(reason.split())
    if not 1 <= len(folded) <= MAX_FAILURE_REASON or not folded.isprintable():
        raise InvalidInput(
            ErrorCode.INVALID_INPUT, f"reason must be 1 to {MAX_FAILURE_REASON} printable characters", field="reason"
        )
    return folded


async def mark_payout_failed(principal: Principal, runtime: Runtime, payout_id: int, reason: str) -> Payout:
    """PENDING_APPROVAL, APPROVED or SENT -> FAILED: the money returns to the party's AVAILABLE balance (from
    SETTLING, or from in transit once sent) and its next statement shows it. A FAILED payout is returned as it
    is; a PAID one cannot fail."""
    require(principal, "payouts:approve")
    require_person(principal, "failing a payout")
    why = _checked_reason(reason)
    now = runtime.now()
    async with in_transaction():
        payout = await _locked(principal, payout_id)
        if payout.status == FAILED:
            return payout
        if payout.status not in SOURCES[FAILED]:
            raise _state_error(payout, FAILED)
        was_sent = payout.status == SENT
        settling = party_account(payout.party_id, payout.currency, Bucket.SETTLING)
        await post_entries(
            [
                fail_payout(
                    payout.party_id, payout.currency, payout.amount_minor, was_sent=was_sent, memo=f"payout {payout.id}"
                )
            ],
            at_least=[] if was_sent else [AtLeast(settling, payout.amount_minor)],
            posted_at=now,
        )
        before = payout.status
        payout.status, payout.failed_at, payout.failure_reason = FAILED, now, why
        await payout.save(update_fields=["status", "failed_at", "failure_reason", "updated_at"])
        await _record("payout_failed", principal, payout, f"{before} -> {FAILED}: {why}")
    return payout


# --- events -----------------------------------------------------------------------------------------------


def _detail(payout: Payout, text: str) -> str:
    return f"payout {payout.id} of {_money(payout)}: {text}"


async def _record(kind: str, principal: Principal, payout: Payout, text: str) -> None:
    await auth_events.record(kind, party_id=payout.party_id, actor=principal, detail=_detail(payout, text))


def _event_row(kind: str, principal: Principal, payout: Payout, text: str) -> AuthEvent:
    """auth_events.record's row, for writing many in one statement."""
    return AuthEvent(
        kind=kind,
        party_id=payout.party_id,
        actor_user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        detail=_detail(payout, text)[:400],
    )


# --- reads ------------------------------------------------------------------------------------------------


async def list_payouts(
    principal: Principal,
    runtime: Runtime,
    page: PageRequest,
    *,
    status: PayoutStatus | str | None = None,
    party_id: int | None = None,
) -> Page[Payout]:
    """Payouts in the caller's scope (every party's for the platform, its own for a party), newest first."""
    require(principal, "payouts:read")
    query = readable(principal, Payout)
    if status:
        query = query.filter(status=str(status))
    if party_id is not None:
        query = query.filter(party_id=party_id)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def payouts_by_ids(principal: Principal, ids: list[int]) -> dict[int, Payout]:
    """For node lookups: the payouts among `ids` in the caller's scope."""
    require(principal, "payouts:read")
    return {row.id: row for row in await readable(principal, Payout).filter(id__in=ids)}
