"""Disputes through the API: the platform opens and resolves them, the platform setting says who bears a lost one,
and a merchant reads its own, never another's (list, node, a payment's disputes); the courier that carried the
payment sees none."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from domain.models import Dispute
from domain.parties import KycStatus
from domain.services import disputes, ledger, parties, payments
from tests.conftest import Api, gid, http_client, operator_principal, payment_input

FIELDS = """id paymentId merchantId amount { amount currency } heldFromEscrow { amount } reason evidenceDueAt
  status lostDisputeBearer openedAt openedByUserId resolvedAt resolvedByUserId openedEntryId releasedEntryId
  lostEntryId refundId merchant { id }"""
ERRORS = "... on UserError { code message field }"
OPEN = f"""mutation($input: OpenDisputeInput!) {{ openDispute(input: $input) {{ __typename
  ... on OpenDisputeSuccess {{ replayed dispute {{ {FIELDS} }} }} {ERRORS} }} }}"""
RESOLVE = f"""mutation($id: ID!, $outcome: DisputeOutcome!) {{
  resolveDispute(input: {{disputeId: $id, outcome: $outcome}}) {{ __typename
    ... on ResolveDisputeSuccess {{ dispute {{ {FIELDS} }} }} {ERRORS} }} }}"""
DISPUTES = """query($payment: ID, $status: DisputeStatus) { disputes(first: 100, paymentId: $payment, status: $status) {
  edges { node { id status amount { amount } } } } }"""
DISPUTE = "query($id: ID!) { dispute(id: $id) { id status } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Dispute { status } } }"
PAYMENT_DISPUTES = "query($id: ID!) { payment(id: $id) { id disputes { id status } } }"
SET_BEARER = """mutation($bearer: LostDisputeBearer!) { updatePlatformSettings(input: {lostDisputeBearer: $bearer}) {
  __typename ... on UpdatePlatformSettingsSuccess { settings { lostDisputeBearer } } } }"""


def dispute_input(payment_id: int, amount: str = "50.00", **overrides) -> dict:
    return {
        "paymentId": gid("Payment", payment_id),
        "amount": amount,
        "reason": "item not as described",
        "evidenceDueAt": "2030-01-15T23:59:59+08:00",
        "idempotencyKey": secrets.token_hex(8),
    } | overrides


@dataclass
class Sale:
    payment_id: int
    merchant_id: int
    merchant_admin: Api  # the merchant's own users
    merchant_staff: Api


@pytest.fixture
async def sale(app, world, runtime, make_merchant, make_user, anonymous_client):
    """158.00 of a fresh merchant carried by courier A, recorded a minute ago, and two users of the merchant (a fresh
    merchant: the world's merchant A keeps only the buckets other tests expect). Disputes left open are won at the
    end: the database is shared by the whole run, and a release that does not know disputes yet would count the
    escrow they hold (tests/integration/test_disputes_service.py, the xfail tests)."""
    operator = operator_principal(world.platform_id)
    merchant = await make_merchant()
    recorded = await payments.record_payment(
        operator, runtime, payment_input(merchant.id, logistics_partner_id=world.logistics_a_id)
    )
    users = []
    for role in ("merchant_admin", "merchant_staff"):
        login = await make_user(role, merchant.id)
        tokens = await anonymous_client.login_with_totp(login.email, login.totp_secret)
        users.append(http_client(app, tokens["accessToken"]))
    yield Sale(recorded.payment.id, merchant.id, Api(users[0]), Api(users[1]))
    for http in users:
        await http.aclose()
    for dispute in await Dispute.filter(payment_id=recorded.payment.id, status="OPEN"):
        await disputes.resolve_dispute(operator, runtime, dispute.id, "WON")


@pytest.fixture
async def unreleased_payment(world, runtime, make_merchant):
    """158.00 of a fresh merchant suspended after the sale: its share is never released, so a lost dispute's escrow
    never meets a release."""
    operator = operator_principal(world.platform_id)
    merchant = await make_merchant()
    recorded = await payments.record_payment(operator, runtime, payment_input(merchant.id))
    await parties.update_merchant(
        operator, runtime, merchant.id, parties.MerchantChanges(kyc_status=KycStatus.SUSPENDED)
    )
    return recorded.payment


@asynccontextmanager
async def bearer(admin, value: str):
    result = (await admin.execute(SET_BEARER, {"bearer": value}))["updatePlatformSettings"]
    assert result["settings"]["lostDisputeBearer"] == value, result
    try:
        yield
    finally:
        await admin.execute(SET_BEARER, {"bearer": "MERCHANT_ONLY"})


async def test_finance_opens_a_dispute_and_the_same_key_replays_it(finance_client, sale):
    data = dispute_input(sale.payment_id)
    opened = (await finance_client.execute(OPEN, {"input": data}))["openDispute"]
    assert opened["__typename"] == "OpenDisputeSuccess" and not opened["replayed"]
    dispute = opened["dispute"]
    assert dispute["status"] == "OPEN" and dispute["amount"] == {"amount": "50.00", "currency": "CNY"}
    assert dispute["heldFromEscrow"] == {"amount": "50.00"}  # the share is still in escrow
    assert (dispute["paymentId"], dispute["merchantId"]) == (
        gid("Payment", sale.payment_id),
        gid("Merchant", sale.merchant_id),
    )
    assert dispute["merchant"]["id"] == gid("Merchant", sale.merchant_id)
    assert dispute["openedEntryId"] and dispute["resolvedAt"] is None and dispute["lostDisputeBearer"] is None

    again = (await finance_client.execute(OPEN, {"input": data}))["openDispute"]
    assert again["replayed"] and again["dispute"]["id"] == dispute["id"]
    conflict = (await finance_client.execute(OPEN, {"input": data | {"amount": "51.00"}}))["openDispute"]
    assert (conflict["__typename"], conflict["code"], conflict["field"]) == (
        "IdempotencyConflict",
        "IDEMPOTENCY_CONFLICT",
        "idempotencyKey",
    )


async def test_a_dispute_above_what_is_disputable_is_a_validation_error_naming_the_amount(finance_client, sale):
    refused = await finance_client.execute(OPEN, {"input": dispute_input(sale.payment_id, "158.01")})
    result = refused["openDispute"]
    assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", "INVALID_AMOUNT", "amount")
    listed = await finance_client.execute(DISPUTES, {"payment": gid("Payment", sale.payment_id)})
    assert listed["disputes"]["edges"] == []
    missing = (await finance_client.execute(OPEN, {"input": dispute_input(999_999_999)}))["openDispute"]
    assert (missing["__typename"], missing["field"]) == ("NotFoundError", "paymentId")


async def test_resolving_won_then_again_is_unchanged_and_the_other_outcome_is_refused(finance_client, sale):
    opened = (await finance_client.execute(OPEN, {"input": dispute_input(sale.payment_id)}))["openDispute"]
    dispute_id = opened["dispute"]["id"]
    won = (await finance_client.execute(RESOLVE, {"id": dispute_id, "outcome": "WON"}))["resolveDispute"]
    assert won["__typename"] == "ResolveDisputeSuccess"
    assert (won["dispute"]["status"], won["dispute"]["lostEntryId"]) == ("WON", None)
    assert won["dispute"]["releasedEntryId"] and won["dispute"]["resolvedByUserId"]
    again = (await finance_client.execute(RESOLVE, {"id": dispute_id, "outcome": "WON"}))["resolveDispute"]
    assert again["dispute"] == won["dispute"]
    refused = (await finance_client.execute(RESOLVE, {"id": dispute_id, "outcome": "LOST"}))["resolveDispute"]
    assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", "INVALID_INPUT", "outcome")


async def test_a_lost_dispute_is_borne_as_the_platform_setting_says(
    finance_client, platform_admin_client, unreleased_payment, world
):
    first = await finance_client.execute(OPEN, {"input": dispute_input(unreleased_payment.id, "10.00")})
    lost = (await finance_client.execute(RESOLVE, {"id": first["openDispute"]["dispute"]["id"], "outcome": "LOST"}))[
        "resolveDispute"
    ]["dispute"]
    assert (lost["status"], lost["lostDisputeBearer"], lost["refundId"]) == ("LOST", "MERCHANT_ONLY", None)
    second = await finance_client.execute(OPEN, {"input": dispute_input(unreleased_payment.id, "20.00")})
    async with bearer(platform_admin_client, "PROPORTIONAL"):
        shared = (
            await finance_client.execute(RESOLVE, {"id": second["openDispute"]["dispute"]["id"], "outcome": "LOST"})
        )["resolveDispute"]["dispute"]
    assert (shared["lostDisputeBearer"], shared["refundId"] is not None) == ("PROPORTIONAL", True)
    settings = await platform_admin_client.execute("{ platformSettings { lostDisputeBearer } }")
    assert settings["platformSettings"]["lostDisputeBearer"] == "MERCHANT_ONLY"
    assert (await ledger.verify_ledger(operator_principal(world.platform_id))).ok


async def test_a_merchant_sees_its_own_disputes_and_not_another_merchants(finance_client, other_merchant_client, sale):
    opened = (await finance_client.execute(OPEN, {"input": dispute_input(sale.payment_id)}))["openDispute"]
    dispute_id = opened["dispute"]["id"]
    payment_id = gid("Payment", sale.payment_id)
    for own in (sale.merchant_admin, sale.merchant_staff):
        listed = await own.execute(DISPUTES, {"payment": payment_id, "status": "OPEN"})
        assert [edge["node"]["id"] for edge in listed["disputes"]["edges"]] == [dispute_id]
        assert (await own.execute(DISPUTE, {"id": dispute_id}))["dispute"]["id"] == dispute_id
        assert (await own.execute(NODE, {"id": dispute_id}))["node"] == {"id": dispute_id, "status": "OPEN"}
        shown = (await own.execute(PAYMENT_DISPUTES, {"id": payment_id}))["payment"]["disputes"]
        assert shown == [{"id": dispute_id, "status": "OPEN"}]
    other = await other_merchant_client.execute(DISPUTES, {"payment": payment_id})
    assert other["disputes"]["edges"] == []
    assert (await other_merchant_client.execute(DISPUTE, {"id": dispute_id}))["dispute"] is None
    assert (await other_merchant_client.execute(NODE, {"id": dispute_id}))["node"] is None
    mine = await other_merchant_client.execute("{ disputes(first: 100) { edges { node { id } } } }")
    assert dispute_id not in [edge["node"]["id"] for edge in mine["disputes"]["edges"]]


async def test_neither_a_merchant_nor_a_logistics_partner_opens_or_resolves_a_dispute(
    finance_client, logistics_client, sale
):
    opened = (await finance_client.execute(OPEN, {"input": dispute_input(sale.payment_id)}))["openDispute"]
    for caller in (sale.merchant_admin, logistics_client):
        body = await caller.execute(OPEN, {"input": dispute_input(sale.payment_id)}, expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        body = await caller.execute(RESOLVE, {"id": opened["dispute"]["id"], "outcome": "WON"}, expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    listed = await finance_client.execute(DISPUTES, {"payment": gid("Payment", sale.payment_id)})
    assert [edge["node"]["status"] for edge in listed["disputes"]["edges"]] == ["OPEN"]


async def test_the_courier_that_carried_the_payment_sees_none_of_its_disputes(finance_client, logistics_client, sale):
    opened = (await finance_client.execute(OPEN, {"input": dispute_input(sale.payment_id)}))["openDispute"]
    payment_id = gid("Payment", sale.payment_id)
    assert (await logistics_client.execute(DISPUTES, {"payment": payment_id}))["disputes"]["edges"] == []
    assert (await logistics_client.execute(DISPUTE, {"id": opened["dispute"]["id"]}))["dispute"] is None
    assert (await logistics_client.execute(NODE, {"id": opened["dispute"]["id"]}))["node"] is None
    assert (await logistics_client.execute(PAYMENT_DISPUTES, {"id": payment_id}))["payment"]["disputes"] == []
