"""The default rule is an ordinary rule of the book: created once by a migration, one at most, restricted so it
always matches, and versioned and activated like any other rule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.errors import ErrorCode, InvalidInput
from domain.models import SplitRule
from domain.payments import LineItemInput, PaymentInput
from domain.rules import DEFAULT_RULE_PRIORITY, Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft
from domain.services import payments, rule_simulation, rules
from domain.splitting import ShareRole
from tests.conftest import activate_newest_version

FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


async def default_rule_row() -> SplitRule:
    return await SplitRule.get(is_default=True)


async def test_the_migration_created_exactly_one_active_default_rule_that_ranks_lowest(operator, runtime):
    assert await SplitRule.filter(is_default=True).count() == 1
    row = await default_rule_row()
    assert row.status == rules.ACTIVE
    first = (await rules.versions_of(operator, [row.id]))[row.id][0]
    assert first.activated_at is not None and first.priority == DEFAULT_RULE_PRIORITY
    catalogue = await rules.load_catalogue()
    assert first.id in {version.version_id for version in catalogue.book_at(runtime.now()).rules}


async def test_the_database_refuses_a_second_default_rule():
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await SplitRule.create(name="Another default", status=rules.ACTIVE, is_default=True)
    assert await SplitRule.filter(is_default=True).count() == 1


@pytest.mark.postgres_only
async def test_concurrent_first_loads_create_no_default_rule(runtime):
    await asyncio.gather(*(rules.load_catalogue() for _ in range(10)))
    assert await SplitRule.filter(is_default=True).count() == 1


@pytest.mark.parametrize(
    ("conditions", "legs", "field"),
    [
        (Conditions(currency="CNY"), (), "conditions"),
        (Conditions(), (Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(fixed_minor=100)),), "legs[0]"),
    ],
)
async def test_the_default_rule_refuses_what_would_stop_it_matching(operator, runtime, conditions, legs, field):
    row = await default_rule_row()
    edit = rules.RuleInput(row.name, row.description, RuleDraft(0, conditions, legs), FAR_FUTURE)
    with pytest.raises(InvalidInput) as caught:
        await rules.update_rule(operator, runtime, row.id, edit)
    assert (caught.value.code, caught.value.field) == (ErrorCode.DEFAULT_RULE, field)


def jpy_payment(merchant_id: int, paid_at: datetime) -> PaymentInput:
    return PaymentInput(
        idempotency_key="preview",
        merchant_id=merchant_id,
        external_order_id="preview",
        currency="JPY",
        total_amount="1000",
        line_items=[LineItemInput("a", "toys", "1000", 1)],
        paid_at=paid_at,
    )


async def test_a_future_version_of_the_default_rule_applies_only_from_its_effective_time(
    operator, runtime, make_merchant
):
    merchant = await make_merchant()
    row = await default_rule_row()
    one_percent = (Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=100)),)
    edit = rules.RuleInput(row.name, row.description, RuleDraft(999, Conditions(), one_percent), FAR_FUTURE)
    await rules.update_rule(operator, runtime, row.id, edit)
    newest = (await rules.versions_of(operator, [row.id]))[row.id][-1]
    assert newest.priority == DEFAULT_RULE_PRIORITY  # the default rule always ranks lowest
    await activate_newest_version(operator, runtime, row.id)

    today = await rule_simulation.preview_split(operator, runtime, jpy_payment(merchant.id, runtime.now()))
    assert today.per_party() == {(merchant.id, ShareRole.MERCHANT): 1000}
    later = await rule_simulation.preview_split(
        operator, runtime, jpy_payment(merchant.id, datetime(2099, 6, 1, tzinfo=UTC))
    )
    assert later.per_party()[(merchant.id, ShareRole.MERCHANT)] == 990


async def test_a_payment_paid_before_2000_is_refused_naming_the_field(operator, runtime, make_merchant):
    """Before this check a payment paid before the default rule's first version (1970) matched no rule: a 500."""
    merchant = await make_merchant()
    old = jpy_payment(merchant.id, datetime(1969, 12, 31, tzinfo=UTC))
    with pytest.raises(InvalidInput) as caught:
        await payments.record_payment(operator, runtime, old)
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID_INPUT, "paidAt")
