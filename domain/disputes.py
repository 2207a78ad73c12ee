"""The arithmetic of disputes (chargebacks): what is still disputable, where a hold comes from, where it goes. Pure.

A buyer disputes a payment with the payment provider; until the dispute is decided, the disputed amount of the
merchant's money is held in its DISPUTED bucket. The rules of the business, named:

- DISPUTABLE: a dispute is at most the payment's total minus its refunds and its other open or lost disputes.
- HOLD_FROM_ESCROW_FIRST (WHERE_REFUNDS_TAKE_FROM, for the merchant alone): the hold comes from the merchant's
  share of this payment still held in escrow (PENDING), the rest from AVAILABLE, which past what it holds goes
  negative: a debt its next statements deduct. Like refunds, the rolling reserve is never drawn on directly (each
  reserve hold comes back whole on its day; taking from it first would pay that money out twice).
- WON_RETURNS_THE_HOLD: a won dispute gives the hold back where it came from: its escrow part to PENDING while
  the share is still held (released with it later: a dispute never makes escrowed money available sooner),
  everything else to AVAILABLE.
- LOST_DISPUTE_BEARER, a platform setting: MERCHANT_ONLY (the default) — the hold leaves through PSP clearing and
  nothing else moves; PROPORTIONAL — the lost amount is reversed across the parties like a refund of that amount
  (domain/refunds.py), the merchant's part out of the hold and the rest of the hold back to the merchant as when
  won. PROPORTIONAL_NEEDS_REFUNDABLE: only when all of it is still refundable; otherwise the merchant bears it.
- ESCROW_WITHHELD: what a dispute took from the share's escrow and still keeps from its release. A share's
  release is its allocations, less its refund reversals, less what its disputes withhold: `from_escrow_minor`
  less `escrow_cleared_minor`, which a resolution sets to what went back to PENDING plus, for a shared loss, the
  merchant's refund reversal: that reversal lowers the release already, so the hold must not lower it twice (the
  difference may be negative: a reversal larger than the hold's escrow part lifts the release back to what escrow
  still holds).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.errors import ErrorCode, InvalidInput
from domain.money import Money


class DisputeInvariantViolation(Exception):
    """A postcondition that protects money failed: a bug or broken stored data, never an input problem. Raised,
    not asserted, so that it holds under `python -O` too."""


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise DisputeInvariantViolation(message)


class DisputeStatus(enum.StrEnum):
    """Stored in disputes.status: add, never rename."""

    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


class DisputeOutcome(enum.StrEnum):
    WON = "WON"
    LOST = "LOST"


class LostDisputeBearer(enum.StrEnum):
    """Who bears a lost dispute (LOST_DISPUTE_BEARER). Stored in the platform settings: add, never rename."""

    MERCHANT_ONLY = "MERCHANT_ONLY"
    PROPORTIONAL = "PROPORTIONAL"


DEFAULT_LOST_DISPUTE_BEARER = LostDisputeBearer.MERCHANT_ONLY

# Disputes that still count against the payment (DISPUTABLE): a won one gave everything back.
COUNTED_STATUSES = (DisputeStatus.OPEN, DisputeStatus.LOST)


def _money(amount_minor: int, currency: str) -> str:
    return f"{Money(amount_minor, currency).format()} {currency}"


def disputable(total_minor: int, refunded_minor: int, disputed_minor: int) -> int:
    """DISPUTABLE: what a new dispute of the payment may be at most."""
    left = total_minor - refunded_minor - disputed_minor
    ensure(left >= 0, f"a payment of {total_minor} has {refunded_minor} refunded and {disputed_minor} disputed")
    return left


def check_disputable(amount_minor: int, disputable_minor: int, currency: str) -> None:
    """Raises InvalidInput naming `amount` unless 0 < amount <= what is still disputable."""
    if amount_minor <= 0:
        raise InvalidInput(ErrorCode.INVALID_AMOUNT, "amount: a dispute is more than zero", field="amount")
    if amount_minor > disputable_minor:
        allowed = (
            "nothing is left to dispute: the payment is refunded or disputed in full"
            if disputable_minor == 0
            else f"the {_money(disputable_minor, currency)} still disputable (the payment's total less its refunds "
            "and its other open or lost disputes)"
        )
        raise InvalidInput(
            ErrorCode.INVALID_AMOUNT, f"amount: {_money(amount_minor, currency)} is more than {allowed}", field="amount"
        )


def escrow_held(share_minor: int, reversed_minor: int, withheld_minor: int, *, released: bool) -> int:
    """What the merchant's share of the payment still holds in escrow: its allocations less its refund reversals
    and what its disputes withhold (ESCROW_WITHHELD); nothing once the share is released."""
    if released:
        return 0
    return max(0, share_minor - reversed_minor - withheld_minor)


@dataclass(frozen=True, slots=True)
class Hold:
    """Where a dispute's hold comes from (HOLD_FROM_ESCROW_FIRST)."""

    from_escrow_minor: int  # PENDING: the merchant's share of this payment still held
    from_available_minor: int  # AVAILABLE, negative past what it holds

    @property
    def amount_minor(self) -> int:
        return self.from_escrow_minor + self.from_available_minor


def hold_for(amount_minor: int, escrow_held_minor: int) -> Hold:
    ensure(amount_minor > 0 and escrow_held_minor >= 0, "a hold is more than zero, escrow zero or more")
    hold = Hold(min(amount_minor, escrow_held_minor), amount_minor - min(amount_minor, escrow_held_minor))
    ensure(hold.amount_minor == amount_minor and hold.from_available_minor >= 0, "a hold adds up")
    return hold


def bearer_for(setting: LostDisputeBearer, amount_minor: int, refundable_minor: int) -> LostDisputeBearer:
    """PROPORTIONAL_NEEDS_REFUNDABLE: a loss is shared out only when the whole disputed amount is still refundable
    (refunds made after the dispute opened may have given some of it back already); otherwise the merchant, whose
    hold covers it, bears it alone."""
    if setting is LostDisputeBearer.PROPORTIONAL and amount_minor <= refundable_minor:
        return LostDisputeBearer.PROPORTIONAL
    return LostDisputeBearer.MERCHANT_ONLY


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a dispute's hold goes when it is decided."""

    to_escrow_minor: int  # back to PENDING, released later with the share
    to_available_minor: int  # back to AVAILABLE
    lost_minor: int  # out of the hold through PSP clearing
    escrow_cleared_minor: int  # ESCROW_WITHHELD: of `from_escrow_minor`, what no longer withholds the release


def where_the_hold_goes(
    hold: Hold, *, share_released: bool, lost_minor: int = 0, merchant_reversed_minor: int = 0
) -> Resolution:
    """WON_RETURNS_THE_HOLD (nothing lost) and LOST_DISPUTE_BEARER (`lost_minor` out of the hold: all of it when
    the merchant bears the loss alone; its part of a refund of the disputed amount, `merchant_reversed_minor`,
    when the loss is shared). What is not lost goes back to escrow first, up to the hold's escrow part, while the
    share is still held (a dispute never makes escrowed money available sooner), the rest to AVAILABLE."""
    amount = hold.amount_minor
    ensure(
        0 <= merchant_reversed_minor <= lost_minor <= amount, f"{merchant_reversed_minor} <= {lost_minor} <= {amount}"
    )
    back_to_escrow = 0 if share_released else min(hold.from_escrow_minor, amount - lost_minor)
    result = Resolution(
        to_escrow_minor=back_to_escrow,
        to_available_minor=amount - lost_minor - back_to_escrow,
        lost_minor=lost_minor,
        # Once released, the share is never released again: what a dispute withholds no longer matters.
        escrow_cleared_minor=0 if share_released else back_to_escrow + merchant_reversed_minor,
    )
    _check_resolution(hold, result, share_released)
    return result


def _check_resolution(hold: Hold, result: Resolution, share_released: bool) -> None:
    parts = (result.to_escrow_minor, result.to_available_minor, result.lost_minor)
    ensure(all(part >= 0 for part in parts), f"a resolution moves no negative amount: {result}")
    ensure(sum(parts) == hold.amount_minor, f"a resolution accounts for the whole hold: {result}")
    ensure(result.to_escrow_minor <= hold.from_escrow_minor, "only the escrow part goes back to escrow")
    ensure(not share_released or result.to_escrow_minor == 0, "nothing goes back to the escrow of a released share")
    ensure(result.to_escrow_minor <= result.escrow_cleared_minor, "what goes back to escrow is no longer withheld")
