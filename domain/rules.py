"""Split rules: conditions that pick a rule for a line item, and legs that say who takes what. Pure."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from domain.errors import FieldErrors, InvalidInput
from domain.money import Money, currency_exponent

BPS_WHOLE = 10_000  # 100 %
DEFAULT_MERCHANT_SHARE_CAP_BPS = 3_000  # like WeChat Pay's 30 % profit-sharing ceiling
MIN_PRIORITY, MAX_PRIORITY = -1_000_000, 1_000_000  # of ordinary rules
DEFAULT_RULE_PRIORITY = MIN_PRIORITY - 1  # the default rule ranks below every ordinary rule, always


class Basis(enum.StrEnum):
    ITEM_AMOUNT = "ITEM_AMOUNT"  # the goods amount of the lines the rule matched
    SHIPPING_FEE = "SHIPPING_FEE"  # those lines' part of the order's shipping fee
    # Both; the share is drawn from the goods and the shipping fee in proportion to the two, so only its goods
    # part counts toward the merchant-share cap.
    ORDER_TOTAL = "ORDER_TOTAL"


class LegApplication(enum.StrEnum):
    """What a leg's computation (rate, tiers, fixed amount, min and max) is applied to, once."""

    # To the sum of the lines the rule matched in the order; the result is then attributed back to those lines
    # with the one allocation function. The same goods itemised differently pay the same.
    PER_ORDER = "PER_ORDER"
    PER_LINE = "PER_LINE"  # to each matched line on its own: a fixed amount, tiers and caps count per line
    PER_UNIT = "PER_UNIT"  # to one unit of each matched line, times its quantity (ITEM_AMOUNT only)


class BeneficiaryKind(enum.StrEnum):
    PLATFORM = "PLATFORM"
    LOGISTICS = "LOGISTICS"  # the logistics partner that carries the order
    PARTY = "PARTY"  # a named party (supplier, affiliate, another logistics company, ...)


@dataclass(frozen=True, slots=True)
class Band:
    """Progressive tier: `rate_bps` applies to the part of the basis between from_minor and to_minor."""

    from_minor: int
    to_minor: int | None
    rate_bps: int


@dataclass(frozen=True, slots=True)
class Computation:
    """rate_bps of the basis, plus fixed_minor, plus progressive bands; then clamped to [min, max]."""

    rate_bps: int = 0
    fixed_minor: int = 0
    bands: tuple[Band, ...] = ()
    min_minor: int | None = None
    max_minor: int | None = None

    def numerator(self, basis_minor: int) -> int:
        """The exact share in units of 1/10000 of a minor unit (so no division, hence no rounding, here)."""
        total = self.rate_bps * basis_minor + self.fixed_minor * BPS_WHOLE
        for band in self.bands:
            upper = basis_minor if band.to_minor is None else min(basis_minor, band.to_minor)
            if upper > band.from_minor:
                total += (upper - band.from_minor) * band.rate_bps
        return total

    def max_rate_bps(self) -> int:
        return self.rate_bps + max((band.rate_bps for band in self.bands), default=0)


@dataclass(frozen=True, slots=True)
class Leg:
    beneficiary: BeneficiaryKind
    basis: Basis
    computation: Computation
    party_id: int | None = None  # for BeneficiaryKind.PARTY
    application: LegApplication = LegApplication.PER_ORDER


@dataclass(frozen=True, slots=True)
class Conditions:
    """All given conditions must hold; an empty set or None means "any"."""

    merchant_ids: frozenset[int] = frozenset()
    merchant_tiers: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    min_amount_minor: int | None = None  # on the order's goods amount, inclusive
    max_amount_minor: int | None = None  # exclusive
    currency: str | None = None
    channels: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    active_from: datetime | None = None
    active_until: datetime | None = None

    def matches(self, line: LineContext) -> bool:
        return (
            (not self.merchant_ids or line.merchant_id in self.merchant_ids)
            and (not self.merchant_tiers or line.merchant_tier in self.merchant_tiers)
            and (not self.categories or line.category in self.categories)
            and (self.min_amount_minor is None or line.order_goods_minor >= self.min_amount_minor)
            and (self.max_amount_minor is None or line.order_goods_minor < self.max_amount_minor)
            and (self.currency is None or line.currency == self.currency)
            and (not self.channels or line.channel in self.channels)
            and (not self.regions or line.region in self.regions)
            and (self.active_from is None or line.paid_at >= self.active_from)
            and (self.active_until is None or line.paid_at < self.active_until)
        )

    def specificity(self) -> int:
        """How many kinds of condition are set: the more, the more specific."""
        return sum(
            (
                bool(self.merchant_ids),
                bool(self.merchant_tiers),
                bool(self.categories),
                self.min_amount_minor is not None or self.max_amount_minor is not None,
                self.currency is not None,
                bool(self.channels),
                bool(self.regions),
                self.active_from is not None or self.active_until is not None,
            )
        )


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """One immutable version of a rule, as the splitter sees it."""

    version_id: int
    rule_id: int
    priority: int
    effective_from: datetime
    conditions: Conditions
    legs: tuple[Leg, ...]

    def selection_key(self) -> tuple[int, int, datetime, int]:
        """Higher wins: priority, then specificity, then the newest version."""
        return (self.priority, self.conditions.specificity(), self.effective_from, self.version_id)


@dataclass(frozen=True, slots=True)
class LineContext:
    merchant_id: int
    merchant_tier: str
    category: str
    currency: str
    channel: str
    region: str
    paid_at: datetime
    order_goods_minor: int


class RuleBook:
    """Rule versions prepared for selection: sorted once, best first, so selecting is the first match."""

    __slots__ = ("prepared", "rules")

    def __init__(self, rules: Iterable[RuleVersion]) -> None:
        # version ids are unique, so the key is a total order and the result cannot depend on input order.
        self.rules: tuple[RuleVersion, ...] = tuple(sorted(rules, key=RuleVersion.selection_key, reverse=True))
        # What the splitter derives from a rule, kept per rule object for the life of the book.
        self.prepared: dict[tuple[int | None, ...], tuple[RuleVersion, object]] = {}

    def select(self, line: LineContext) -> RuleVersion | None:
        """The matching version with the highest (priority, specificity, newest)."""
        for rule in self.rules:
            if rule.effective_from <= line.paid_at and rule.conditions.matches(line):
                return rule
        return None


def select_rule(candidates: Iterable[RuleVersion], line: LineContext) -> RuleVersion | None:
    return RuleBook(candidates).select(line)


@dataclass(frozen=True)
class RuleDraft:
    """What a caller proposes; `validate` names the field at fault."""

    priority: int
    conditions: Conditions
    legs: Sequence[Leg] = field(default_factory=tuple)


def validate_rule(
    draft: RuleDraft, *, merchant_share_cap_bps: int = DEFAULT_MERCHANT_SHARE_CAP_BPS, is_default: bool = False
) -> None:
    """Refuses, naming the field, any rule the splitter would not apply as written.

    What the splitter would cut is refused here: rates above 100 % of what they draw from, rates on the goods
    above the merchant-share cap, and fixed amounts or minimums above the cap at the smallest order the rule
    applies to. (A fixed amount on a rule without a minimum order amount can still meet a smaller order; there
    the cap, a ceiling, wins at split time.)

    Every field at fault is reported at once (InvalidFields), so a form can show them all.
    """
    errors = FieldErrors()
    c = draft.conditions
    errors.check(partial(_validate_header, draft, is_default))
    errors.check(partial(_validate_conditions, c))
    for index, leg in enumerate(draft.legs):
        errors.check(partial(_validate_leg, leg, f"legs[{index}]", c))
    if not errors.errors:  # the sums below only mean something once every leg is valid on its own
        errors.check(partial(_validate_rates, draft.legs, merchant_share_cap_bps))
        # The minimum is on the order's goods; only a rule for every category splits all of them, so only then
        # is the smallest order also the smallest amount its per-order legs apply to.
        if c.min_amount_minor is not None and not c.categories:
            errors.check(
                partial(_validate_smallest_order, draft.legs, c.min_amount_minor, merchant_share_cap_bps, c.currency)
            )
    errors.raise_any()


def _validate_header(draft: RuleDraft, is_default: bool) -> None:
    if not draft.legs and not is_default:  # the default rule may take nothing: the merchant keeps the rest
        raise InvalidInput("INVALID_RULE", "a rule needs at least one leg", field="legs")
    if draft.conditions.currency is not None:
        currency_exponent(draft.conditions.currency)  # raises UNKNOWN_CURRENCY naming the field
    if is_default:
        _validate_default_rule(draft)
    elif not MIN_PRIORITY <= draft.priority <= MAX_PRIORITY:
        raise InvalidInput(
            "INVALID_RULE", f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}", field="priority"
        )


def _validate_conditions(c: Conditions) -> None:
    for name, moment in (("conditions.activeFrom", c.active_from), ("conditions.activeUntil", c.active_until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("INVALID_INPUT", f"{name} needs a time zone (e.g. 2026-01-01T00:00:00Z)", field=name)
    if c.min_amount_minor is not None and c.max_amount_minor is not None and c.min_amount_minor >= c.max_amount_minor:
        raise InvalidInput(
            "INVALID_RULE", "conditions.minAmount must be below conditions.maxAmount", field="conditions.minAmount"
        )
    if c.active_from is not None and c.active_until is not None and c.active_from >= c.active_until:
        raise InvalidInput(
            "INVALID_RULE", "conditions.activeFrom must be before activeUntil", field="conditions.activeFrom"
        )


def _validate_leg(leg: Leg, where: str, c: Conditions) -> None:
    comp = leg.computation
    if leg.beneficiary is BeneficiaryKind.PARTY and leg.party_id is None:
        raise InvalidInput(
            "INVALID_RULE", f"{where}.partyId is required for a PARTY beneficiary", field=f"{where}.partyId"
        )
    if leg.application is LegApplication.PER_UNIT and leg.basis is not Basis.ITEM_AMOUNT:
        raise InvalidInput(
            "INVALID_RULE",
            f"{where}: a PER_UNIT leg applies to one unit's price, so its basis must be ITEM_AMOUNT",
            field=f"{where}.application",
        )
    if comp.rate_bps < 0 or comp.fixed_minor < 0:
        raise InvalidInput("INVALID_RULE", f"{where}: rates and fixed amounts must not be negative", field=where)
    if comp.rate_bps > BPS_WHOLE:
        raise InvalidInput(
            "RATE_ABOVE_100_PERCENT",
            f"{where}.rateBps {comp.rate_bps} is above 10000 (100 %)",
            field=f"{where}.rateBps",
        )
    _validate_bands(comp.bands, where)
    if (comp.min_minor is not None and comp.min_minor < 0) or (comp.max_minor is not None and comp.max_minor < 0):
        raise InvalidInput("INVALID_RULE", f"{where}: caps must not be negative", field=where)
    if comp.min_minor is not None and comp.max_minor is not None and comp.min_minor > comp.max_minor:
        raise InvalidInput("INVALID_RULE", f"{where}: min cap is above max cap", field=f"{where}.minAmount")
    if comp.rate_bps == 0 and comp.fixed_minor == 0 and not comp.bands:
        raise InvalidInput("INVALID_RULE", f"{where} takes nothing: give a rate, a fixed amount or bands", field=where)
    if (
        comp.fixed_minor
        and c.min_amount_minor is not None
        and not c.categories
        and leg.basis is not Basis.SHIPPING_FEE
        and leg.application is LegApplication.PER_ORDER
        and comp.fixed_minor > c.min_amount_minor
    ):
        raise InvalidInput(
            "FIXED_FEE_ABOVE_AMOUNT",
            f"{where}: the fixed amount is above the smallest order amount this rule applies to",
            field=f"{where}.fixedAmount",
        )


def _validate_rates(legs: Sequence[Leg], cap_bps: int) -> None:
    """Rates as the splitter draws them: ORDER_TOTAL legs draw from the goods and from the shipping fee."""
    rate_by_basis = {basis: 0 for basis in Basis}
    for leg in legs:
        rate_by_basis[leg.basis] += leg.computation.max_rate_bps()
    from_goods = rate_by_basis[Basis.ITEM_AMOUNT] + rate_by_basis[Basis.ORDER_TOTAL]
    from_shipping = rate_by_basis[Basis.SHIPPING_FEE] + rate_by_basis[Basis.ORDER_TOTAL]
    for what, rate in (("the goods amount", from_goods), ("the shipping fee", from_shipping)):
        if rate > BPS_WHOLE:
            raise InvalidInput(
                "RATE_ABOVE_100_PERCENT",
                f"legs take up to {rate / 100:.2f} % of {what} (ITEM_AMOUNT or SHIPPING_FEE legs plus ORDER_TOTAL "
                "legs), above 100 %",
                field="legs",
            )
    if from_goods > cap_bps:
        raise InvalidInput(
            "ABOVE_MERCHANT_SHARE_CAP",
            f"legs take up to {from_goods / 100:.2f} % of the goods amount (ITEM_AMOUNT and ORDER_TOTAL legs); the "
            f"platform caps it at {cap_bps / 100:.2f} %",
            field="legs",
        )


def _validate_smallest_order(legs: Sequence[Leg], min_amount_minor: int, cap_bps: int, currency: str | None) -> None:
    """At the smallest order the rule applies to, its per-order legs on the goods must fit under the cap (a fixed
    amount or a minimum weighs most there)."""
    taken = 0
    for leg in legs:
        if leg.basis is Basis.SHIPPING_FEE or leg.application is not LegApplication.PER_ORDER:
            continue
        comp = leg.computation
        share = -(-comp.numerator(min_amount_minor) // BPS_WHOLE)  # rounded up: the worst case
        if comp.min_minor is not None:
            share = max(share, comp.min_minor)
        if comp.max_minor is not None:
            share = min(share, comp.max_minor)
        taken += share
    ceiling = min_amount_minor * cap_bps // BPS_WHOLE
    if taken > ceiling:
        raise InvalidInput(
            "ABOVE_MERCHANT_SHARE_CAP",
            f"at the smallest order amount this rule applies to ({_major(min_amount_minor, currency)}) its legs "
            f"take {_major(taken, currency)}, above the merchant-share cap of {_major(ceiling, currency)}",
            field="legs",
        )


def _major(amount_minor: int, currency: str | None) -> str:
    """An amount as people read it (messages speak in major units): "150.00 CNY"."""
    return f"{Money(amount_minor, currency).format()} {currency}" if currency else str(amount_minor)


def _validate_default_rule(draft: RuleDraft) -> None:
    """The default rule must match every payment, in any currency, at any time."""
    if draft.conditions != Conditions():
        raise InvalidInput(
            "DEFAULT_RULE",
            "the default rule has no conditions: it must match every payment (make an ordinary rule instead)",
            field="conditions",
        )
    for index, leg in enumerate(draft.legs):
        comp = leg.computation
        if comp.fixed_minor or comp.bands or comp.min_minor is not None or comp.max_minor is not None:
            raise InvalidInput(
                "DEFAULT_RULE",
                "the default rule applies in every currency, so its legs take rates only (no fixed amount, tiers, "
                "minimum or maximum)",
                field=f"legs[{index}]",
            )


def _validate_bands(bands: Sequence[Band], where: str) -> None:
    if not bands:
        return
    if bands[0].from_minor != 0:
        raise InvalidInput("INVALID_TIERS", f"{where}.tiers must start at 0", field=f"{where}.tiers")
    for position, band in enumerate(bands):
        if not 0 <= band.rate_bps <= BPS_WHOLE:
            raise InvalidInput(
                "INVALID_TIERS", f"{where}.tiers[{position}].rateBps must be 0..10000", field=f"{where}.tiers"
            )
        last = position == len(bands) - 1
        if band.to_minor is None and not last:
            raise InvalidInput(
                "INVALID_TIERS",
                f"{where}.tiers[{position}] is open-ended but is not the last tier",
                field=f"{where}.tiers",
            )
        if band.to_minor is not None and band.to_minor <= band.from_minor:
            raise InvalidInput(
                "INVALID_TIERS", f"{where}.tiers[{position}] ends before it starts", field=f"{where}.tiers"
            )
        if not last:
            following = bands[position + 1].from_minor
            if following > (band.to_minor or 0):
                raise InvalidInput(
                    "INVALID_TIERS", f"{where}.tiers leave a gap after tier {position}", field=f"{where}.tiers"
                )
            if following < (band.to_minor or 0):
                raise InvalidInput(
                    "INVALID_TIERS", f"{where}.tiers overlap after tier {position}", field=f"{where}.tiers"
                )
    if bands[-1].to_minor is not None:
        raise InvalidInput("INVALID_TIERS", f"{where}: the last tier must be open-ended", field=f"{where}.tiers")


# --- storage form (JSON-ready dicts) -------------------------------------------------------------------


def conditions_to_dict(c: Conditions) -> dict[str, Any]:
    return {
        "merchant_ids": sorted(c.merchant_ids),
        "merchant_tiers": sorted(c.merchant_tiers),
        "categories": sorted(c.categories),
        "min_amount_minor": c.min_amount_minor,
        "max_amount_minor": c.max_amount_minor,
        "currency": c.currency,
        "channels": sorted(c.channels),
        "regions": sorted(c.regions),
        "active_from": c.active_from.isoformat() if c.active_from else None,
        "active_until": c.active_until.isoformat() if c.active_until else None,
    }


def conditions_from_dict(d: dict[str, Any]) -> Conditions:
    return Conditions(
        merchant_ids=frozenset(d.get("merchant_ids", ())),
        merchant_tiers=frozenset(d.get("merchant_tiers", ())),
        categories=frozenset(d.get("categories", ())),
        min_amount_minor=d.get("min_amount_minor"),
        max_amount_minor=d.get("max_amount_minor"),
        currency=d.get("currency"),
        channels=frozenset(d.get("channels", ())),
        regions=frozenset(d.get("regions", ())),
        active_from=datetime.fromisoformat(d["active_from"]) if d.get("active_from") else None,
        active_until=datetime.fromisoformat(d["active_until"]) if d.get("active_until") else None,
    )


def legs_to_list(legs: Sequence[Leg]) -> list[dict[str, Any]]:
    return [
        {
            "beneficiary": leg.beneficiary.value,
            "party_id": leg.party_id,
            "basis": leg.basis.value,
            "rate_bps": leg.computation.rate_bps,
            "fixed_minor": leg.computation.fixed_minor,
            "bands": [[b.from_minor, b.to_minor, b.rate_bps] for b in leg.computation.bands],
            "min_minor": leg.computation.min_minor,
            "max_minor": leg.computation.max_minor,
            "application": leg.application.value,
        }
        for leg in legs
    ]


def legs_from_list(items: Sequence[dict[str, Any]]) -> tuple[Leg, ...]:
    # Versions stored before legs named their application were split line by line: they are read as PER_LINE,
    # so what a stored version says is what it did.
    return tuple(
        Leg(
            beneficiary=BeneficiaryKind(item["beneficiary"]),
            basis=Basis(item["basis"]),
            party_id=item["party_id"],
            computation=Computation(
                rate_bps=item["rate_bps"],
                fixed_minor=item["fixed_minor"],
                bands=tuple(Band(*band) for band in item["bands"]),
                min_minor=item["min_minor"],
                max_minor=item["max_minor"],
            ),
            application=LegApplication(item.get("application", LegApplication.PER_LINE)),
        )
        for item in items
    )
