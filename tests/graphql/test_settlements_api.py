"""Money going out through the API: the carrier confirms a delivery, shares are released, a run settles them, and
each party sees its own statements and shares, never another's."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api, gid, graphql_payment_input, http_client

CREATE_MERCHANT = """mutation($input: CreateMerchantInput!) { createMerchant(input: $input) {
  __typename ... on CreateMerchantSuccess { merchant { id } } ... on UserError { code message field } } }"""
RECORD = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on RecordPaymentSuccess { payment { id externalOrderId } } ... on UserError { code field } } }"""
CONFIRM = """mutation($input: ConfirmDeliveryInput!) { confirmDelivery(input: $input) {
  __typename
  ... on ConfirmDeliverySuccess { replayed delivery { deliveredAt evidence confirmedByPartyId }
      releases { partyId reason amount { amount currency } } }
  ... on UserError { code message field } } }"""
RUN = """mutation($input: RunSettlementInput!) { runSettlement(input: $input) {
  __typename
  ... on RunSettlementSuccess { run { id status statementsCreated payoutCount totals { currency statements } } }
  ... on UserError { code message field } } }"""
RELEASE = """mutation($input: ReleaseHeldFundsInput!) { releaseHeldFunds(input: $input) {
  __typename ... on ReleaseHeldFundsSuccess { sharesReleased partiesConsidered }
  ... on UserError { code message field } } }"""
STATEMENTS = """query($party: ID) { settlements(first: 10, partyId: $party) { edges { node {
  id currency periodDate openingBalance { amount } movements { amount } payoutAmount { amount }
  closingBalance { amount } lines(first: 10) { edges { node { kind amount { amount } } } } csv } } } }"""
SHARES = """query($from: DateTime!, $to: DateTime!) { myShares(from: $from, to: $to) {
  state currency count total { amount } } }"""
BALANCES = """query($party: ID!, $asOf: DateTime) { balances(partyId: $party, asOf: $asOf) {
  bucket amount { amount } } }"""


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
async def sale(client_for, world):
    """A merchant settled daily at T+0, and a payment of 158.00 it sold an hour ago, carried by courier A."""
    admin = await client_for("platform_admin")
    created = await admin.execute(
        CREATE_MERCHANT,
        {
            "input": {
                "name": f"Tea House {secrets.token_hex(3)}",
                "kycStatus": "VERIFIED",
                "settlementProfile": {"currency": "CNY", "cycle": "DAILY", "anchorDay": 0, "delayDays": 0},
                "bankAccount": {"holderName": "Tea House", "bankName": "ICBC", "accountNumber": "6222020000000101"},
            }
        },
    )
    merchant = created["createMerchant"]["merchant"]["id"]
    operations = await client_for("platform_operations")
    paid = (now() - timedelta(hours=1)).isoformat()
    data = graphql_payment_input(0, world.logistics_a_id) | {"merchantId": merchant, "paidAt": paid}
    recorded = (await operations.execute(RECORD, {"input": data}))["recordPayment"]
    assert recorded["__typename"] == "RecordPaymentSuccess", recorded
    return {"merchant": merchant, "payment": recorded["payment"]}


async def test_the_carrier_confirms_its_delivery_and_sees_its_share_available(client_for, sale, world):
    courier = await client_for("logistics_partner")
    delivered = (now() - timedelta(minutes=10)).isoformat()
    confirm = {"input": {"paymentId": sale["payment"]["id"], "deliveredAt": delivered, "evidence": "sig-42"}}
    first = (await courier.execute(CONFIRM, confirm))["confirmDelivery"]
    assert first["__typename"] == "ConfirmDeliverySuccess", first
    assert not first["replayed"]
    assert first["releases"] == [
        {
            "partyId": gid("LogisticsPartner", world.logistics_a_id),
            "reason": "DELIVERY_CONFIRMED",
            "amount": {"amount": "8.00", "currency": "CNY"},
        }
    ]
    again = (await courier.execute(CONFIRM, confirm))["confirmDelivery"]
    assert again["replayed"] and again["delivery"] == first["delivery"]
    window = {"from": (now() - timedelta(days=1)).isoformat(), "to": (now() + timedelta(days=1)).isoformat()}
    shares = (await courier.execute(SHARES, window))["myShares"]
    available = [s for s in shares if s["state"] == "AVAILABLE"]
    assert available and available[0]["count"] >= 1


async def test_a_courier_that_did_not_carry_the_order_cannot_confirm_it(client_for, sale):
    stranger = await client_for("other_logistics_partner")
    body = {"input": {"paymentId": sale["payment"]["id"], "deliveredAt": now().isoformat()}}
    refused = (await stranger.execute(CONFIRM, body))["confirmDelivery"]
    assert (refused["__typename"], refused["field"]) == ("NotFoundError", "paymentId")


async def test_a_merchant_cannot_confirm_delivery(client_for, sale):
    merchant = await client_for("merchant_admin")
    body = {"input": {"paymentId": sale["payment"]["id"], "deliveredAt": now().isoformat()}}
    refused = await merchant.execute(CONFIRM, body, expect_errors=True)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("delivered", "field"),
    [(timedelta(days=1), "deliveredAt"), (-timedelta(days=3), "deliveredAt")],
)
async def test_a_delivery_in_the_future_or_before_the_payment_is_refused(client_for, world, delivered, field):
    operations = await client_for("platform_operations")
    data = graphql_payment_input(world.merchant_a_id, world.logistics_a_id) | {
        "paidAt": (now() - timedelta(hours=2)).isoformat()
    }
    payment = (await operations.execute(RECORD, {"input": data}))["recordPayment"]["payment"]
    refused = (
        await operations.execute(
            CONFIRM, {"input": {"paymentId": payment["id"], "deliveredAt": (now() + delivered).isoformat()}}
        )
    )["confirmDelivery"]
    assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", "INVALID_DELIVERY", field)


async def test_settlement_pays_the_released_share_once_and_the_ledger_agrees(client_for, sale):
    operations = await client_for("platform_operations")
    await operations.execute(CONFIRM, {"input": {"paymentId": sale["payment"]["id"], "deliveredAt": now().isoformat()}})
    finance = await client_for("platform_finance")
    run = (await finance.execute(RUN, {"input": {}}))["runSettlement"]
    assert run["__typename"] == "RunSettlementSuccess", run
    assert run["run"]["status"] == "COMPLETED"
    again = (await finance.execute(RUN, {"input": {}}))["runSettlement"]
    assert again["__typename"] == "RunSettlementSuccess"
    statements = (await finance.execute(STATEMENTS, {"party": sale["merchant"]}))["settlements"]["edges"]
    assert len(statements) == 1
    statement = statements[0]["node"]
    assert statement["movements"] == {"amount": "150.00"}
    assert statement["payoutAmount"] == {"amount": "150.00"}
    assert statement["closingBalance"] == {"amount": "0.00"}
    lines = [(e["node"]["kind"], e["node"]["amount"]["amount"]) for e in statement["lines"]["edges"]]
    assert sorted(lines) == [("PAYOUT", "-150.00"), ("RELEASE", "150.00")]
    assert sale["payment"]["externalOrderId"] in statement["csv"]
    assert statement["csv"].splitlines()[0].startswith("statement_id,party,currency,period")
    balances = (await finance.execute(BALANCES, {"party": sale["merchant"], "asOf": now().isoformat()}))["balances"]
    held = {b["bucket"]: b["amount"]["amount"] for b in balances}
    assert held["AVAILABLE"] == "0.00" and held["SETTLING"] == "150.00" and held["PENDING"] == "0.00"
    assert (await finance.execute("{ verifyLedger { ok } }"))["verifyLedger"]["ok"]


async def test_a_merchant_sees_its_own_statements_and_never_another_merchants(client_for, sale, world):
    finance = await client_for("platform_finance")
    await finance.execute(RUN, {"input": {}})
    own = await client_for("merchant_admin")
    other = await client_for("other_merchant_admin")
    courier = await client_for("logistics_partner")
    for caller, own_party in ((own, world.merchant_a_id), (other, world.merchant_b_id)):
        edges = (await caller.execute(STATEMENTS, {"party": None}))["settlements"]["edges"]
        assert all(e["node"]["id"] for e in edges)
        party_ids = {
            (await caller.execute("query($id: ID!) { settlement(id: $id) { partyId } }", {"id": e["node"]["id"]}))[
                "settlement"
            ]["partyId"]
            for e in edges
        }
        assert party_ids <= {gid("Merchant", own_party)}
    # The sale's merchant statement is invisible to other merchants and couriers, by list and by id.
    statement_id = (await finance.execute(STATEMENTS, {"party": sale["merchant"]}))["settlements"]["edges"][0]["node"][
        "id"
    ]
    for caller in (own, other, courier):
        assert (await caller.execute("query($id: ID!) { settlement(id: $id) { id } }", {"id": statement_id}))[
            "settlement"
        ] is None
        node = await caller.execute("query($id: ID!) { node(id: $id) { id } }", {"id": statement_id})
        assert node["node"] is None


async def test_bad_cutoffs_and_unused_currencies_are_typed_errors(client_for):
    finance = await client_for("platform_finance")
    future = (now() + timedelta(hours=1)).isoformat()
    for field_input, code, field in (
        ({"cutoff": future}, "INVALID_CUTOFF", "cutoff"),
        ({"currency": "ISK"}, "UNUSED_CURRENCY", "currency"),
        ({"currency": "XXX"}, "UNKNOWN_CURRENCY", "currency"),
    ):
        refused = (await finance.execute(RUN, {"input": field_input}))["runSettlement"]
        assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", code, field)
    early = (await finance.execute(RELEASE, {"input": {"asOf": future}}))["releaseHeldFunds"]
    assert (early["code"], early["field"]) == ("INVALID_CUTOFF", "asOf")
    # The first instant there is: no date arithmetic may run off the calendar into a server error.
    for mutation, name, field in ((RELEASE, "releaseHeldFunds", "asOf"), (RUN, "runSettlement", "cutoff")):
        ancient = (await finance.execute(mutation, {"input": {field: "0001-01-01T00:00:00+00:00"}}))[name]
        assert (ancient["code"], ancient["field"]) == ("INVALID_CUTOFF", field)
    nothing_due = (await finance.execute(RELEASE, {"input": {"asOf": "2000-01-02T00:00:00+00:00"}}))["releaseHeldFunds"]
    assert nothing_due["sharesReleased"] == 0


async def test_each_allocation_knows_when_and_why_it_was_released(client_for, sale, world):
    courier = await client_for("logistics_partner")
    await courier.execute(CONFIRM, {"input": {"paymentId": sale["payment"]["id"], "deliveredAt": now().isoformat()}})
    query = """query($id: ID!) { payment(id: $id) { delivery { evidence confirmedByPartyId }
      allocations { role release { reason releasedAt amount { amount } } } } }"""
    payment = (await courier.execute(query, {"id": sale["payment"]["id"]}))["payment"]
    assert payment["delivery"]["confirmedByPartyId"] == gid("LogisticsPartner", world.logistics_a_id)
    [share] = payment["allocations"]  # the carrier sees its own share only
    assert share["role"] == "LOGISTICS"
    assert share["release"]["reason"] == "DELIVERY_CONFIRMED"
    assert share["release"]["amount"] == {"amount": "8.00"}


UPDATE_PROFILE = """mutation($input: UpdateSettlementProfileInput!) { updateSettlementProfile(input: $input) {
  __typename
  ... on UpdateSettlementProfileSuccess { party { settlementProfile { cycle anchorDay delayDays reserveBps
      reserveDays minimumPayout { amount currency } } } }
  ... on ValidationError { code field errors { code field } } ... on UserError { code field } } }"""


@pytest.mark.parametrize(
    ("profile", "code", "field"),
    [
        ({"currency": "CNY", "minimumPayout": "1.001"}, "TOO_MANY_DECIMALS", "settlementProfile.minimumPayout"),
        ({"currency": "JPY", "minimumPayout": "100.5"}, "TOO_MANY_DECIMALS", "settlementProfile.minimumPayout"),
        ({"currency": "CNY", "reserveBps": 9000, "reserveDays": 5}, "INVALID_RESERVE", "settlementProfile.reserveBps"),
        ({"currency": "CNY", "reserveBps": 500}, "INVALID_RESERVE", "settlementProfile.reserveDays"),
        ({"currency": "CNY", "cycle": "MONTHLY", "anchorDay": 0}, "INVALID_ANCHOR_DAY", "settlementProfile.anchorDay"),
        ({"currency": "XXX"}, "UNKNOWN_CURRENCY", "settlementProfile.currency"),
    ],
)
async def test_a_bad_settlement_profile_is_a_typed_error_and_changes_nothing(client_for, sale, profile, code, field):
    admin = await client_for("platform_admin")
    refused = (
        await admin.execute(UPDATE_PROFILE, {"input": {"partyId": sale["merchant"], "settlementProfile": profile}})
    )["updateSettlementProfile"]
    assert refused["__typename"] == "ValidationError", refused
    assert (refused["code"], refused["field"]) == (code, field)
    after = (
        await admin.execute(
            "query($id: ID!) { merchant(id: $id) { settlementProfile { delayDays reserveBps } } }",
            {"id": sale["merchant"]},
        )
    )["merchant"]["settlementProfile"]
    assert after == {"delayDays": 0, "reserveBps": 0}


async def test_the_platform_changes_a_couriers_terms_and_the_change_is_on_record(client_for, world):
    admin = await client_for("platform_admin")
    courier_id = gid("LogisticsPartner", world.logistics_b_id)
    profile = {
        "currency": "CNY",
        "cycle": "MONTHLY",
        "anchorDay": 31,
        "delayDays": 2,
        "minimumPayout": "50.00",
        "reserveBps": 500,
        "reserveDays": 30,
    }
    changed = (await admin.execute(UPDATE_PROFILE, {"input": {"partyId": courier_id, "settlementProfile": profile}}))[
        "updateSettlementProfile"
    ]
    assert changed["__typename"] == "UpdateSettlementProfileSuccess", changed
    assert changed["party"]["settlementProfile"]["anchorDay"] == 31
    assert changed["party"]["settlementProfile"]["minimumPayout"] == {"amount": "50.00", "currency": "CNY"}
    events = (
        await admin.execute(
            '{ authEvents(first: 5, kind: "settlement_profile_changed") { edges { node { detail } } } }'
        )
    )["authEvents"]["edges"]
    assert any("MONTHLY anchor 31, T+2" in e["node"]["detail"] for e in events)


async def test_a_courier_cannot_change_its_own_terms(client_for, world):
    courier = await client_for("logistics_partner")
    body = {
        "input": {"partyId": gid("LogisticsPartner", world.logistics_a_id), "settlementProfile": {"currency": "CNY"}}
    }
    refused = await courier.execute(UPDATE_PROFILE, body, expect_errors=True)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


APPROVE = """mutation($id: ID!) { approvePayout(input: {payoutId: $id}) { __typename
  ... on ApprovePayoutSuccess { approvalsRemaining payout { status } } ... on UserError { code field } } }"""
SEND = """mutation($id: ID!) { markPayoutSent(input: {payoutId: $id}) { __typename
  ... on PayoutSuccess { payout { status } } ... on UserError { code field } } }"""
PAID = """mutation($id: ID!, $ref: String!) { markPayoutPaid(input: {payoutId: $id, bankReference: $ref}) {
  __typename ... on PayoutSuccess { payout { status bankReference } } ... on UserError { code field } } }"""
STATEMENT_PAYOUT = """query($party: ID) { settlements(first: 1, partyId: $party) { edges { node {
  payout { id status amount { amount } } } } } }"""


async def test_the_whole_flow_ends_with_the_merchant_paid_and_the_ledger_balanced(client_for, sale):
    """payment -> courier confirms -> release -> settlement -> two approvals (the bank account is new) -> sent ->
    paid: the statement shows its payout PAID, the merchant's shares are PAID, and nothing is left in SETTLING."""
    finance = await client_for("platform_finance")
    admin = await client_for("platform_admin")
    operations = await client_for("platform_operations")
    await operations.execute(CONFIRM, {"input": {"paymentId": sale["payment"]["id"], "deliveredAt": now().isoformat()}})
    await finance.execute(RUN, {"input": {}})
    payout = (await finance.execute(STATEMENT_PAYOUT, {"party": sale["merchant"]}))["settlements"]["edges"][0]["node"][
        "payout"
    ]
    assert payout["amount"] == {"amount": "150.00"}
    assert payout["status"] == "PENDING_APPROVAL"
    first = (await admin.execute(APPROVE, {"id": payout["id"]}))["approvePayout"]
    assert first["__typename"] == "ApprovePayoutSuccess", first
    assert first["approvalsRemaining"] == 1  # the merchant's bank account was set minutes ago: two people
    second = (await finance.execute(APPROVE, {"id": payout["id"]}))["approvePayout"]
    assert second["payout"]["status"] == "APPROVED", second
    assert (await finance.execute(SEND, {"id": payout["id"]}))["markPayoutSent"]["payout"]["status"] == "SENT"
    paid = (await finance.execute(PAID, {"id": payout["id"], "ref": "ICBC-20261122-0001"}))["markPayoutPaid"]
    assert paid["payout"] == {"status": "PAID", "bankReference": "ICBC-20261122-0001"}
    failed_after_paid = await finance.execute(
        'mutation($id: ID!) { markPayoutFailed(input: {payoutId: $id, reason: "bounced"}) { __typename '
        "... on UserError { code field } } }",
        {"id": payout["id"]},
    )
    assert failed_after_paid["markPayoutFailed"]["code"] == "INVALID_PAYOUT_STATE"
    other_merchant = await client_for("merchant_admin")  # merchant A: another merchant than the sale's
    assert (await other_merchant.execute("query($id: ID!) { node(id: $id) { id } }", {"id": payout["id"]}))[
        "node"
    ] is None
    balances = (await finance.execute(BALANCES, {"party": sale["merchant"], "asOf": now().isoformat()}))["balances"]
    held = {b["bucket"]: b["amount"]["amount"] for b in balances}
    assert held["SETTLING"] == "0.00" and held["AVAILABLE"] == "0.00" and held["PENDING"] == "0.00"
    statement = (await finance.execute(STATEMENT_PAYOUT, {"party": sale["merchant"]}))["settlements"]["edges"][0]
    assert statement["node"]["payout"]["status"] == "PAID"
    assert (await finance.execute("{ verifyLedger { ok } }"))["verifyLedger"]["ok"]


async def test_a_couriers_system_confirms_with_its_api_key_and_asks_where_its_money_is(app, client_for, world):
    """The partner's own system, not a person: an API key with deliveries:confirm and payments:read."""
    admin = await client_for("platform_admin")
    operations = await client_for("platform_operations")
    created = await admin.execute(
        """mutation($p: ID!) { createApiKey(input: {partyId: $p, name: "courier dispatch",
          permissions: ["deliveries:confirm", "payments:read"]}) { __typename ... on CreateApiKeySuccess { key } } }""",
        {"p": gid("LogisticsPartner", world.logistics_a_id)},
    )
    key = created["createApiKey"]["key"]
    data = graphql_payment_input(world.merchant_a_id, world.logistics_a_id) | {
        "paidAt": (now() - timedelta(hours=3)).isoformat()
    }
    payment = (await operations.execute(RECORD, {"input": data}))["recordPayment"]["payment"]
    async with http_client(app, key) as http:
        system = Api(http)
        confirmed = (
            await system.execute(
                CONFIRM, {"input": {"paymentId": payment["id"], "deliveredAt": now().isoformat(), "evidence": "pod-7"}}
            )
        )["confirmDelivery"]
        assert confirmed["__typename"] == "ConfirmDeliverySuccess", confirmed
        assert [r["amount"]["amount"] for r in confirmed["releases"]] == ["8.00"]
        window = {"from": (now() - timedelta(days=1)).isoformat(), "to": (now() + timedelta(minutes=1)).isoformat()}
        shares = (await system.execute(SHARES, window))["myShares"]
        assert any(s["state"] == "AVAILABLE" and s["count"] >= 1 for s in shares), shares
