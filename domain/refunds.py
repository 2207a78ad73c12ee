"""The arithmetic of refunds: what a refund takes back from each party's share of each line item. Pure.

A payment's split is recorded per line item and per party as two parts: the party's part of the line's goods
amount and of the line's part of the shipping fee. A refund reverses parts of those, never more than earlier
refunds left. The computation is a sequence of named steps, each checking its postcondition:

1. what is left of every party's parts (its shares minus what earlier refunds reversed);
2. what the refund takes from each line's goods and shipping fee (the rules below, by items or by amount);
3. each line's goods and shipping refund cut among the parties' remaining parts (REFUND_FROM_REMAINING_SHARES).

The rules of the business, named:

- REFUND_BY_ITEMS: each listed line item refunds its amount (by default all that is left of its goods) from that
  line's goods; with `include_shipping`, the listed lines also refund what is left of their shipping fee.
- REFUND_BY_AMOUNT: an amount is drawn from what is left of the lines' goods in proportion to it; with
  `include_shipping`, from what is left of the lines' goods and shipping fees together, in proportion.
- WHOLE_REFUND: an amount equal to everything still refundable (goods and shipping fee together) refunds
  everything, the shipping fee included, whatever `include_shipping` says: a buyer refunded in full gets the
  shipping fee back.
- SHIPPING_ONLY_WHEN_ASKED: otherwise no refund touches a shipping part (the courier's, as a rule).
- REFUND_FROM_REMAINING_SHARES: a line's goods (or shipping) refund is cut among the parties in proportion to what
  is left of their parts of that line's goods (or shipping), with `allocate`. A part is within one unit of its
  exact share, so it never exceeds what is left of the party's part and never goes negative, and a refund of all
  that is left returns every part exactly: a series of partial refunds that empties the payment reverses every
  party's share exactly, whatever the series.

Why not the cumulative method of DESIGN.md ("allocate the cumulative refund across the parties' shares, minus what
earlier refunds already reversed"): the largest-remainder method has the Alabama paradox. With three or more
parties a larger total can give one party a smaller part, so the difference can be NEGATIVE: shares 48.75 /
48.75 / 2.50 and a refund of 0.15 reverse 0.07 / 0.07 / 0.01; a second refund of 0.01 makes the cumulative 0.16,
whose allocation is 0.08 / 0.08 / 0.00, so the third party's reversal would be -0.01 (money paid back to it out
of a refund). The remaining-shares rule keeps the property DESIGN.md wanted (exact shares once all is refunded)
without it; tests/unit/test_refunds.py pins the counterexample.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from domain.errors import ErrorCode, FieldErrors, InvalidInput
from domain.money import Money, allocate

ROLES = frozenset({"PLATFORM", "LOGISTICS", "PARTY", "MERCHANT"})


class RefundInvariantViolation(Exception):
    """A postcondition that protects money failed: a bug or broken stored data, never an input problem. Raised,
    not asserted, so that it holds under `python -O` too."""


def ensure(condition: bool, message: str) -> None:
    if not condition:
        raise RefundInvariantViolation(message)


class RefundBasis(enum.StrEnum):
    """Which part of a line a share or a reversal is of."""

    GOODS = "GOODS"
    SHIPPING = "SHIPPING"


_BASES = (RefundBasis.GOODS, RefundBasis.SHIPPING)  # also the order of a line's reversals

ShareKey = tuple[int, RefundBasis, int, str]  # (line position, basis, party id, role)
Reversed = Mapping[ShareKey, int]  # what earlier refunds reversed of each part, in minor units


def _normalized(key: ShareKey) -> ShareKey:
    """The key with its basis as a RefundBasis (stored rows may give it as text)."""
    position, basis, party_id, role = key
    ensure(basis in _BASES, f"unknown basis {basis!r}")
    return (position, RefundBasis(basis), party_id, role)


def _order(key: ShareKey) -> tuple[int, int, int, str]:
    position, basis, party_id, role = key
    return (position, _BASES.index(basis), party_id, role)


# --- input ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartShare:
    """What one party took of one line item: its part of the goods amount and of the line's shipping fee."""

    party_id: int
    role: str
    goods_minor: int
    shipping_minor: int

    def part(self, basis: RefundBasis) -> int:
        return self.goods_minor if basis is RefundBasis.GOODS else self.shipping_minor


@dataclass(frozen=True, slots=True)
class LineShares:
    """One line item's split: its goods amount, its part of the shipping fee, and every party's parts of both."""

    position: int
    goods_minor: int
    shipping_minor: int
    shares: tuple[PartShare, ...]

    def __post_init__(self) -> None:
        where = f"line {self.position}"
        ensure(self.goods_minor >= 0 and self.shipping_minor >= 0, f"{where}: amounts are not negative")
        parties = {(share.party_id, share.role) for share in self.shares}
        ensure(len(parties) == len(self.shares), f"{where}: a party appears twice with one role")
        for share in self.shares:
            ensure(share.role in ROLES, f"{where}: unknown role {share.role!r}")
            ensure(share.goods_minor >= 0 and share.shipping_minor >= 0, f"{where}: a share is negative")
        ensure(sum(share.goods_minor for share in self.shares) == self.goods_minor, f"{where}: goods shares != goods")
        ensure(
            sum(share.shipping_minor for share in self.shares) == self.shipping_minor,
            f"{where}: shipping shares != the line's shipping fee",
        )

    def amount(self, basis: RefundBasis) -> int:
        return self.goods_minor if basis is RefundBasis.GOODS else self.shipping_minor


@dataclass(frozen=True, slots=True)
class ItemRefund:
    """One line item to refund; `amount_minor` None: all that is left of its goods."""

    position: int
    amount_minor: int | None = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """Either an amount or line items, with or without the shipping fee."""

    amount_minor: int | None
    items: tuple[ItemRefund, ...] = ()
    include_shipping: bool = False


# --- output -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reversal:
    """What a refund takes back of one party's part of one line's goods or shipping fee (more than zero)."""

    position: int
    basis: RefundBasis
    party_id: int
    role: str
    amount_minor: int

    @property
    def key(self) -> ShareKey:
        return (self.position, self.basis, self.party_id, self.role)


@dataclass(frozen=True, slots=True)
class RefundPlan:
    """A refund's total and its reversals, ordered by line position, basis (goods first), party id and role."""

    refunded_minor: int
    reversals: tuple[Reversal, ...]

    def reversed_after(self, reversed_minor: Reversed) -> dict[ShareKey, int]:
        """What will have been reversed of each part once this plan is posted on top of `reversed_minor`."""
        after = {_normalized(key): amount_minor for key, amount_minor in reversed_minor.items()}
        for reversal in self.reversals:
            after[reversal.key] = after.get(reversal.key, 0) + reversal.amount_minor
        return after


@dataclass(frozen=True, slots=True)
class LineRefundable:
    position: int
    goods_minor: int
    shipping_minor: int

    def amount(self, basis: RefundBasis) -> int:
        return self.goods_minor if basis is RefundBasis.GOODS else self.shipping_minor


@dataclass(frozen=True, slots=True)
class Refundable:
    """What is still refundable: in total, and per line (in position order) of its goods and shipping fee."""

    total_minor: int
    lines: tuple[LineRefundable, ...]

    @property
    def goods_minor(self) -> int:
        return sum(line.goods_minor for line in self.lines)

    @property
    def shipping_minor(self) -> int:
        return sum(line.shipping_minor for line in self.lines)


# --- the computation --------------------------------------------------------------------------------------


def refundable(lines: Iterable[LineShares], reversed_minor: Reversed) -> Refundable:
    """What earlier refunds left of the payment, per line and in total."""
    return _refundable_of(*_remaining_parts(lines, reversed_minor))


def plan_refund(
    lines: Iterable[LineShares], reversed_minor: Reversed, request: RefundRequest, *, currency: str | None = None
) -> RefundPlan:
    """The reversals of one refund. Raises InvalidInput for a request the payment cannot take (`currency`, when
    given, only formats the amounts in messages) and RefundInvariantViolation for broken stored shares."""
    positions, remaining = _remaining_parts(lines, reversed_minor)
    available = _refundable_of(positions, remaining)
    if request.items:
        if request.amount_minor is not None:
            raise InvalidInput(
                ErrorCode.INVALID_INPUT, "give either an amount or line items to refund, not both", field="items"
            )
        refunds = _refunds_by_items(available, request.items, request.include_shipping, currency)
    elif request.amount_minor is not None:
        refunds = _refunds_by_amount(available, request.amount_minor, request.include_shipping, currency)
    else:
        raise InvalidInput(ErrorCode.INVALID_INPUT, "give an amount or the line items to refund", field="amount")
    plan = RefundPlan(sum(refunds.values()), _cut_among_parties(refunds, remaining))
    _check_plan(plan, request, available, refunds, remaining)
    return plan


# --- step 1: what is left of every part -------------------------------------------------------------------


def _remaining_parts(
    lines: Iterable[LineShares], reversed_minor: Reversed
) -> tuple[tuple[int, ...], dict[ShareKey, int]]:
    """The lines' positions, and every party's part of every line and basis minus what earlier refunds reversed
    of it, in reversal order. Stored reversals that name no part or exceed it are broken data."""
    ordered = sorted(lines, key=lambda line: line.position)
    positions = tuple(line.position for line in ordered)
    ensure(len(set(positions)) == len(positions), "a line position appears twice")
    parts: dict[ShareKey, int] = {}
    for line in ordered:
        for basis in _BASES:
            for share in sorted(line.shares, key=lambda share: (share.party_id, share.role)):
                parts[(line.position, basis, share.party_id, share.role)] = share.part(basis)
    for stored_key, amount_minor in reversed_minor.items():
        key = _normalized(stored_key)
        if key not in parts:
            ensure(amount_minor == 0, f"{key}: {amount_minor} reversed of a part the payment does not have")
            continue
        ensure(0 <= amount_minor <= parts[key], f"{key}: {amount_minor} reversed of a part of {parts[key]}")
        parts[key] -= amount_minor
    return positions, parts


def _refundable_of(positions: tuple[int, ...], remaining: Mapping[ShareKey, int]) -> Refundable:
    per_line = {position: dict.fromkeys(_BASES, 0) for position in positions}
    for (position, basis, _party, _role), amount_minor in remaining.items():
        per_line[position][basis] += amount_minor
    lines = tuple(
        LineRefundable(position, amounts[RefundBasis.GOODS], amounts[RefundBasis.SHIPPING])
        for position, amounts in per_line.items()
    )
    total = sum(remaining.values())
    ensure(total == sum(line.goods_minor + line.shipping_minor for line in lines), "refundable amounts add up")
    return Refundable(total, lines)


# --- step 2: what the refund takes from each line's goods and shipping fee --------------------------------

_Refunds = dict[tuple[int, RefundBasis], int]  # (line position, basis) -> minor units to refund


def _money(amount_minor: int, currency: str | None) -> str:
    return f"{Money(amount_minor, currency).format()} {currency}" if currency else f"{amount_minor} minor units"


def _require_positive(amount_minor: int, field: str, currency: str | None) -> None:
    if amount_minor < 0:
        raise InvalidInput(
            ErrorCode.NEGATIVE_AMOUNT,
            f"{field}: {_money(amount_minor, currency)} is negative; a refund is more than zero",
            field=field,
        )
    if amount_minor == 0:
        raise InvalidInput(ErrorCode.INVALID_AMOUNT, f"{field}: a refund is more than zero", field=field)


def _refunds_by_amount(
    available: Refundable, amount_minor: int, include_shipping: bool, currency: str | None
) -> _Refunds:
    """REFUND_BY_AMOUNT, and WHOLE_REFUND when the amount is everything still refundable."""
    _require_positive(amount_minor, "amount", currency)
    if available.total_minor == 0:
        raise InvalidInput(
            ErrorCode.INVALID_AMOUNT,
            "amount: nothing is left to refund; the payment is refunded in full",
            field="amount",
        )
    whole_refund = amount_minor == available.total_minor  # WHOLE_REFUND
    with_shipping = include_shipping or whole_refund
    limit = available.total_minor if with_shipping else available.goods_minor
    if amount_minor > limit:
        if with_shipping or not available.shipping_minor:
            allowed = f"the {_money(limit, currency)} still refundable"
        else:
            allowed = (
                f"the {_money(limit, currency)} still refundable without the shipping fee "
                f"({_money(available.total_minor, currency)} with it)"
            )
        raise InvalidInput(
            ErrorCode.INVALID_AMOUNT,
            f"amount: {_money(amount_minor, currency)} is more than {allowed}",
            field="amount",
        )
    bases = _BASES if with_shipping else (RefundBasis.GOODS,)
    pools = [(line.position, basis) for line in available.lines for basis in bases]
    weights = [line.amount(basis) for line in available.lines for basis in bases]
    refunds = dict(zip(pools, allocate(amount_minor, weights), strict=True))
    # Within one unit of its exact share, so never past its pool when the amount fits the pools.
    ensure(all(0 <= refunds[pool] <= weight for pool, weight in zip(pools, weights, strict=True)), "past a pool")
    ensure(not whole_refund or refunds == dict(zip(pools, weights, strict=True)), "a whole refund takes all")
    return refunds


def _refunds_by_items(
    available: Refundable, items: tuple[ItemRefund, ...], include_shipping: bool, currency: str | None
) -> _Refunds:
    """REFUND_BY_ITEMS: every mistake in the items is reported at once."""
    lines = {line.position: line for line in available.lines}
    first_listed: dict[int, int] = {}
    errors = FieldErrors()
    refunds: _Refunds = {}
    for index, item in enumerate(items):
        listed_as = first_listed.setdefault(item.position, index)
        line = lines.get(item.position)
        refund = errors.check(partial(_item_refund, index, item, line, listed_as, include_shipping, currency))
        if refund is not None:
            goods_minor, shipping_minor = refund
            refunds[(item.position, RefundBasis.GOODS)] = goods_minor
            if include_shipping:
                refunds[(item.position, RefundBasis.SHIPPING)] = shipping_minor
    errors.raise_any()
    return refunds


def _item_refund(
    index: int,
    item: ItemRefund,
    line: LineRefundable | None,
    listed_as: int,
    include_shipping: bool,
    currency: str | None,
) -> tuple[int, int]:
    """One item's refund of its line's goods, and of its line's shipping fee (with `include_shipping`)."""
    where = f"items[{index}]"
    if line is None:
        raise InvalidInput(
            ErrorCode.INVALID_INPUT, f"{where}: the payment has no such line item", field=f"{where}.lineItemId"
        )
    if listed_as != index:
        raise InvalidInput(
            ErrorCode.INVALID_INPUT,
            f"{where}: this line item is already listed as items[{listed_as}]; list each line item once",
            field=f"{where}.lineItemId",
        )
    shipping_minor = line.shipping_minor if include_shipping else 0
    if item.amount_minor is None:
        if not line.goods_minor and not shipping_minor:
            raise InvalidInput(
                ErrorCode.INVALID_INPUT,
                f"{where}: nothing is left to refund of this line item",
                field=f"{where}.lineItemId",
            )
        return line.goods_minor, shipping_minor
    _require_positive(item.amount_minor, f"{where}.amount", currency)
    if item.amount_minor > line.goods_minor:
        raise InvalidInput(
            ErrorCode.INVALID_AMOUNT,
            f"{where}.amount: {_money(item.amount_minor, currency)} is more than the "
            f"{_money(line.goods_minor, currency)} still refundable of this line item's goods",
            field=f"{where}.amount",
        )
    return item.amount_minor, shipping_minor


# --- step 3: each line's refund cut among the parties -----------------------------------------------------


def _cut_among_parties(refunds: _Refunds, remaining: Mapping[ShareKey, int]) -> tuple[Reversal, ...]:
    """REFUND_FROM_REMAINING_SHARES: each (line, basis) refund allocated over what is left of the parties' parts."""
    pools: dict[tuple[int, RefundBasis], list[ShareKey]] = {}
    for key in remaining:
        pools.setdefault((key[0], key[1]), []).append(key)
    reversals: list[Reversal] = []
    for pool, amount_minor in refunds.items():
        if not amount_minor:
            continue
        keys = pools.get(pool, [])
        rooms = [remaining[key] for key in keys]
        ensure(0 < amount_minor <= sum(rooms), f"{pool}: a refund of {amount_minor} does not fit {sum(rooms)}")
        for key, part in zip(keys, allocate(amount_minor, rooms), strict=True):
            if part:
                reversals.append(Reversal(*key, part))
    return tuple(sorted(reversals, key=lambda reversal: _order(reversal.key)))


# --- postconditions ---------------------------------------------------------------------------------------


def _check_plan(
    plan: RefundPlan,
    request: RefundRequest,
    available: Refundable,
    refunds: _Refunds,
    remaining: Mapping[ShareKey, int],
) -> None:
    keys = [reversal.key for reversal in plan.reversals]
    ensure(keys == sorted(set(keys), key=_order), "reversals are unique and in order")
    reversed_per_pool: _Refunds = {}
    for reversal in plan.reversals:
        ensure(0 < reversal.amount_minor <= remaining.get(reversal.key, 0), f"{reversal}: past what is left")
        pool = (reversal.position, reversal.basis)
        reversed_per_pool[pool] = reversed_per_pool.get(pool, 0) + reversal.amount_minor
    ensure(reversed_per_pool == {pool: amount for pool, amount in refunds.items() if amount}, "pools add up")
    ensure(sum(reversal.amount_minor for reversal in plan.reversals) == plan.refunded_minor, "reversals add up")
    ensure(0 < plan.refunded_minor <= available.total_minor, "a refund is more than zero and at most what is left")
    whole_refund = plan.refunded_minor == available.total_minor
    if request.amount_minor is not None:
        ensure(plan.refunded_minor == request.amount_minor, "an amount refund refunds the amount")
    else:
        listed = {item.position for item in request.items}
        ensure(all(reversal.position in listed for reversal in plan.reversals), "only listed lines are refunded")
    shipping_touched = any(reversal.basis is RefundBasis.SHIPPING for reversal in plan.reversals)
    ensure(not shipping_touched or request.include_shipping or whole_refund, "SHIPPING_ONLY_WHEN_ASKED")
    if whole_refund:
        everything_left = {key: amount_minor for key, amount_minor in remaining.items() if amount_minor}
        reversed_now = {reversal.key: reversal.amount_minor for reversal in plan.reversals}
        ensure(reversed_now == everything_left, "a whole refund reverses every part exactly")
