"""Scoping by meaning: a merchant reads the rules that can apply to it and no other; a logistics partner sees the
order reference and its own shares of the orders it carried, not the merchant's line items."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from auth.principal import Principal
from auth.roles import ROLE_PERMISSIONS
from domain.errors import NotFound
from domain.models import SplitRule
from domain.parties import PartyKind
from domain.rules import Basis, BeneficiaryKind, Computation, Conditions, Leg, RuleDraft
from domain.services import rules
from domain.services.pagination import PageRequest
from tests.conftest import activate_newest_version, gid


def merchant_admin(merchant_id: int) -> Principal:
    return Principal(
        user_id=None,
        party_id=merchant_id,
        party_kind=PartyKind.MERCHANT,
        role="merchant_admin",
        permissions=ROLE_PERMISSIONS["merchant_admin"],
        api_key_id=1,
    )


COMMISSION = (Leg(BeneficiaryKind.PLATFORM, Basis.ITEM_AMOUNT, Computation(rate_bps=100)),)


async def make_rule(operator, runtime, label: str, *, activate: bool = True, **conditions) -> int:
    draft = RuleDraft(0, Conditions(**conditions), COMMISSION)
    name = f"{label} {secrets.token_hex(3)}"
    row = await rules.create_rule(
        operator, runtime, rules.RuleInput(name, None, draft, datetime.now(UTC) + timedelta(days=3650))
    )
    if activate:
        await activate_newest_version(operator, runtime, row.id)
    return row.id


async def readable_rule_ids(principal: Principal, runtime) -> set[int]:
    page = await rules.list_rules(principal, runtime, PageRequest(first=100))
    ids = {row.id for row in page.items}
    while page.has_next_page:
        page = await rules.list_rules(principal, runtime, PageRequest(first=100, after_id=page.items[-1].id))
        ids |= {row.id for row in page.items}
    return ids


@pytest.fixture
async def three_merchants(make_merchant):
    """Three merchants, ids in increasing order: the middle one is checked as first, middle and last of a list."""
    return sorted([(await make_merchant()).id for _ in range(3)])


async def test_merchant_sees_the_active_rules_that_can_apply_to_it(operator, runtime, three_merchants):
    low, me, high = three_merchants
    expected = {
        await make_rule(operator, runtime, "only me", merchant_ids=frozenset({me})),
        await make_rule(operator, runtime, "me first", merchant_ids=frozenset({me, high})),
        await make_rule(operator, runtime, "me last", merchant_ids=frozenset({low, me})),
        await make_rule(operator, runtime, "me between", merchant_ids=frozenset({low, me, high})),
        await make_rule(operator, runtime, "any merchant", categories=frozenset({"tea"})),
    }
    default = (await SplitRule.get(is_default=True)).id
    assert expected | {default} <= await readable_rule_ids(merchant_admin(me), runtime)


async def test_merchant_does_not_see_rules_naming_only_other_merchants_or_drafts(operator, runtime, three_merchants):
    low, me, high = three_merchants
    hidden = {
        await make_rule(operator, runtime, "others", merchant_ids=frozenset({low, high})),
        await make_rule(operator, runtime, "low", merchant_ids=frozenset({low})),
        # A string condition that happens to spell the merchant's id inside the list's text is not a match.
        await make_rule(
            operator, runtime, "tricky", merchant_ids=frozenset({low}), categories=frozenset({f"x, {me}, y", f"{me}]"})
        ),
        await make_rule(operator, runtime, "draft", activate=False, merchant_ids=frozenset({me})),
    }
    principal = merchant_admin(me)
    assert not hidden & await readable_rule_ids(principal, runtime)
    for rule_id in hidden:
        with pytest.raises(NotFound):
            await rules.get_rule(principal, rule_id)


async def test_merchant_reads_an_applicable_rule_and_its_versions_through_the_api(
    merchant_client, operator, runtime, world
):
    own = await make_rule(operator, runtime, "for A", merchant_ids=frozenset({world.merchant_a_id}))
    other = await make_rule(operator, runtime, "for B", merchant_ids=frozenset({world.merchant_b_id}))
    query = "query($id: ID!) { splitRule(id: $id) { id name versions { version } } node(id: $id) { id } }"
    seen = await merchant_client.execute(query, {"id": gid("SplitRule", own)})
    assert seen["splitRule"]["id"] == gid("SplitRule", own) and seen["splitRule"]["versions"] == [{"version": 1}]
    assert seen["node"]["id"] == gid("SplitRule", own)
    unseen = await merchant_client.execute(query, {"id": gid("SplitRule", other)})
    assert unseen == {"splitRule": None, "node": None}


async def test_merchant_cannot_change_a_rule_it_can_read(merchant_client, operator, runtime, world):
    own = await make_rule(operator, runtime, "read only", merchant_ids=frozenset({world.merchant_a_id}))
    body = await merchant_client.execute(
        'mutation($id: ID!) { updateSplitRule(input: {id: $id, name: "mine now", legs: []}) { __typename } }',
        {"id": gid("SplitRule", own)},
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on RecordPaymentSuccess { payment { id externalOrderId } } } }"""
PAYMENT_LINES = """query($id: ID!) { payment(id: $id) { externalOrderId lineItems { sku unitAmount { amount } }
  allocations { role } } }"""


@pytest.fixture(scope="module")
async def carried_payment(client_for, world):
    operations = await client_for("platform_operations")
    data = {
        "idempotencyKey": secrets.token_hex(8),
        "externalOrderId": f"o-{secrets.token_hex(6)}",
        "merchantId": gid("Merchant", world.merchant_a_id),
        "logisticsPartnerId": gid("LogisticsPartner", world.logistics_a_id),
        "currency": "CNY",
        "totalAmount": "158.00",
        "paidAt": "2026-11-20T08:00:00+08:00",
        "shippingFee": "8.00",
        "lineItems": [{"sku": "secret-tea", "category": "tea", "unitAmount": "50.00", "quantity": 3}],
    }
    result = (await operations.execute(RECORD, {"input": data}))["recordPayment"]
    assert result["__typename"] == "RecordPaymentSuccess", result
    return result["payment"]


async def test_logistics_partner_sees_the_order_reference_and_its_share_but_no_line_items(
    logistics_client, carried_payment
):
    seen = (await logistics_client.execute(PAYMENT_LINES, {"id": carried_payment["id"]}))["payment"]
    assert seen["externalOrderId"] == carried_payment["externalOrderId"]
    assert [a["role"] for a in seen["allocations"]] == ["LOGISTICS"]
    assert seen["lineItems"] == []


async def test_merchant_still_sees_its_own_line_items(merchant_client, carried_payment):
    seen = (await merchant_client.execute(PAYMENT_LINES, {"id": carried_payment["id"]}))["payment"]
    assert [(line["sku"], line["unitAmount"]["amount"]) for line in seen["lineItems"]] == [("secret-tea", "50.00")]
