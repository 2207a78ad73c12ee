"""Benchmark: pure split computation, line items per second on one core.

Run: python bench/splits.py [--orders N]. Target (issue 4): at least 100,000 line items per second.
Each order has 1-5 line items in 3 categories, a shipping fee, and is split against 20 rule versions with
category, tier and amount conditions (a commission, a tiered fee with caps, a supplier share, shipping), plus
the default rule. The legs are PER_ORDER (the default application).

Beside it, measured in the same rounds (the machines are shared and noisy): a floor that does only the
arithmetic every split needs, one `allocate` per line item into a 5 % commission and the rest. The ratio
split/floor is the figure to compare across runs and machines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from domain.money import allocate
from domain.rules import Band, Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleBook, RuleVersion
from domain.splitting import LineItem, PaymentFacts, compute_split, default_rule

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ["tea", "silk", "toys"]


def make_rules(count: int) -> list[RuleVersion]:
    rng = random.Random(7)
    rules = []
    for version in range(1, count + 1):
        legs = [Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=rng.randint(50, 800)))]
        if version % 3 == 0:
            legs.append(
                Leg(
                    BeneficiaryKind.PLATFORM,
                    Basis.ITEM_AMOUNT,
                    Computation(bands=(Band(0, 10000, 300), Band(10000, None, 100)), min_minor=10, max_minor=5000),
                )
            )
        if version % 4 == 0:
            legs.append(Leg(BeneficiaryKind.PARTY, Basis.ITEM_AMOUNT, Computation(rate_bps=500), party_id=99))
        legs.append(Leg(BeneficiaryKind.LOGISTICS, Basis.SHIPPING_FEE, Computation(rate_bps=10_000)))
        conditions = Conditions(
            categories=frozenset(rng.sample(CATEGORIES, rng.randint(0, 2))),
            merchant_tiers=frozenset({"GOLD"}) if version % 5 == 0 else frozenset(),
            min_amount_minor=1000 if version % 7 == 0 else None,
        )
        rules.append(
            RuleVersion(
                version_id=version,
                rule_id=version,
                priority=rng.randint(0, 3),
                effective_from=T0,
                conditions=conditions,
                legs=tuple(legs),
            )
        )
    return rules


def make_orders(count: int) -> list[PaymentFacts]:
    rng = random.Random(11)
    orders = []
    for i in range(count):
        items = tuple(
            LineItem(f"sku-{rng.randint(1, 500)}", rng.choice(CATEGORIES), rng.randint(100, 50_000), rng.randint(1, 3))
            for _ in range(rng.randint(1, 5))
        )
        orders.append(
            PaymentFacts(
                merchant_id=1000 + i % 50,
                merchant_tier=rng.choice(["GOLD", "STANDARD"]),
                platform_party_id=1,
                logistics_party_id=2,
                currency="CNY",
                channel="APP",
                region="CN",
                paid_at=T0 + timedelta(days=1),
                line_items=items,
                shipping_fee_minor=rng.choice([0, 800, 1200]),
            )
        )
    return orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rules = RuleBook([*make_rules(20), default_rule(0, 0, T0)])
    orders = make_orders(args.orders)
    line_count = sum(len(order.line_items) for order in orders)
    rates, floors = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for order in orders:
            compute_split(order, rules)
        rates.append(line_count / (time.perf_counter() - started))
        started = time.perf_counter()
        for order in orders:
            for item in order.line_items:
                allocate(item.amount_minor, (500, 9500))
        floors.append(line_count / (time.perf_counter() - started))
    rate, floor = statistics.median(rates), statistics.median(floors)
    print(f"orders per round: {len(orders)}, line items per round: {line_count}, rules: {len(rules.rules)}")
    print(
        f"line items per second: median {rate:,.0f}, best {max(rates):,.0f}, worst {min(rates):,.0f} (target 100,000)"
    )
    print(f"orders per second: median {rate * len(orders) / line_count:,.0f}")
    print(f"floor (one allocate per line item), same rounds: median {floor:,.0f} line items per second")
    print(f"split / floor: {rate / floor:.3f}")


if __name__ == "__main__":
    main()
