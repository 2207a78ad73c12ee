"""Payouts through the API: approving, sending, paying and failing them, the bank file, the payout settings, and
who sees which payouts (a party its own, never another's; an API key never approves)."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import timedelta

import pytest

from domain.models import Payout, User
from domain.parties import PartyKind
from tests.conftest import Api, gid, http_client, operator_principal
from tests.integration.test_payouts_service import payee, pending_payout

PAYOUT_FIELDS = """id settlementId partyId status reference amount { amount currency } startedByUserId
  firstApprovedByUserId approvedByUserId approvedAt batchId sentAt paidAt bankReference failedAt failureReason
  createdAt updatedAt party { id name }"""
PAYOUT = f"query($id: ID!) {{ payout(id: $id) {{ {PAYOUT_FIELDS} }} }}"
NODE = "query($id: ID!) { node(id: $id) { id ... on Payout { status } } }"
PAYOUTS = """query($status: PayoutStatus, $party: ID) { payouts(first: 100, status: $status, partyId: $party) {
  edges { node { id status } } } }"""
ERRORS = "... on UserError { code message field }"
APPROVE = f"""mutation($id: ID!) {{ approvePayout(input: {{payoutId: $id}}) {{ __typename
  ... on ApprovePayoutSuccess {{ approvalsRemaining payout {{ status approvedByUserId firstApprovedByUserId }} }}
  {ERRORS} }} }}"""
SENT = f"""mutation($id: ID!) {{ markPayoutSent(input: {{payoutId: $id}}) {{ __typename
  ... on PayoutSuccess {{ payout {{ status sentAt }} }} {ERRORS} }} }}"""
PAID = f"""mutation($id: ID!, $ref: String!) {{ markPayoutPaid(input: {{payoutId: $id, bankReference: $ref}}) {{
  __typename ... on PayoutSuccess {{ payout {{ status bankReference paidAt }} }} {ERRORS} }} }}"""
FAILED = f"""mutation($id: ID!, $reason: String!) {{ markPayoutFailed(input: {{payoutId: $id, reason: $reason}}) {{
  __typename ... on PayoutSuccess {{ payout {{ status failureReason }} }} {ERRORS} }} }}"""
EXPORT = f"""mutation($key: String!) {{ exportPayoutBatch(input: {{idempotencyKey: $key}}) {{ __typename
  ... on ExportPayoutBatchSuccess {{ batchId createdAt payoutCount totals {{ amount currency }} csv replayed
    payouts {{ id status batchId }} }} {ERRORS} }} }}"""
SETTINGS = "{ platformSettings { payoutApprovalThresholds { amount currency } bankChangeSecondApprovalHours } }"
SET_PAYOUT_SETTINGS = """mutation($thresholds: [PayoutApprovalThresholdInput!], $hours: Int) {
  updatePlatformSettings(input: {payoutApprovalThresholds: $thresholds, bankChangeSecondApprovalHours: $hours}) {
    __typename ... on UpdatePlatformSettingsSuccess { settings { payoutApprovalThresholds { amount currency }
      bankChangeSecondApprovalHours } }
    ... on ValidationError { code field errors { code field } } } }"""


async def _user_id(email: str) -> int:
    return (await User.get(email=email)).id


async def _login(app, anonymous_client, make_user, role: str, party_id: int) -> Api:
    login = await make_user(role, party_id)
    tokens = await anonymous_client.login_with_totp(login.email, login.totp_secret)
    return Api(http_client(app, tokens["accessToken"]))


async def _sweep(finance: Api) -> None:
    """Exports whatever earlier tests left approved, so a test counts its own payouts only."""
    result = (await finance.execute(EXPORT, {"key": f"sweep-{secrets.token_hex(6)}"}))["exportPayoutBatch"]
    assert result["__typename"] == "ExportPayoutBatchSuccess", result


async def test_finance_approves_sends_and_marks_a_payout_paid(finance_client, operator, runtime, world):
    party = await payee(operator, runtime)
    payout = await pending_payout(runtime, party.id, 15_000, started_by=await _user_id(world.emails["platform_admin"]))
    payout_id = gid("Payout", payout.id)
    finance_id = gid("User", await _user_id(world.emails["platform_finance"]))

    shown = (await finance_client.execute(PAYOUT, {"id": payout_id}))["payout"]
    assert shown["status"] == "PENDING_APPROVAL" and shown["amount"] == {"amount": "150.00", "currency": "CNY"}
    assert (shown["partyId"], shown["party"]["name"]) == (gid("Merchant", party.id), party.name)
    assert shown["settlementId"] == gid("Settlement", payout.settlement_id)
    assert shown["reference"] == f"SPLITLEDGER-PAYOUT-{payout.id}"
    assert shown["startedByUserId"] == gid("User", await _user_id(world.emails["platform_admin"]))

    approved = (await finance_client.execute(APPROVE, {"id": payout_id}))["approvePayout"]
    assert approved["__typename"] == "ApprovePayoutSuccess" and approved["approvalsRemaining"] == 0
    assert approved["payout"] == {"status": "APPROVED", "approvedByUserId": finance_id, "firstApprovedByUserId": None}
    sent = (await finance_client.execute(SENT, {"id": payout_id}))["markPayoutSent"]
    assert sent["payout"]["status"] == "SENT" and sent["payout"]["sentAt"]
    paid = (await finance_client.execute(PAID, {"id": payout_id, "ref": "CMB-20261120-0042"}))["markPayoutPaid"]
    assert paid["payout"]["status"] == "PAID" and paid["payout"]["bankReference"] == "CMB-20261120-0042"
    again = (await finance_client.execute(PAID, {"id": payout_id, "ref": "CMB-20261120-0042"}))["markPayoutPaid"]
    assert again["payout"] == paid["payout"]

    refused = (await finance_client.execute(FAILED, {"id": payout_id, "reason": "too late"}))["markPayoutFailed"]
    assert (refused["__typename"], refused["code"], refused["field"]) == (
        "ValidationError",
        "INVALID_PAYOUT_STATE",
        "payoutId",
    )


async def test_the_person_who_started_the_run_gets_same_person_above_the_threshold(
    finance_client, client_for, operator, runtime, world
):
    finance = await _user_id(world.emails["platform_finance"])
    payout = await pending_payout(runtime, (await payee(operator, runtime)).id, 6_000_000, started_by=finance)
    refused = (await finance_client.execute(APPROVE, {"id": gid("Payout", payout.id)}))["approvePayout"]
    assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", "SAME_PERSON", "payoutId")
    assert (await Payout.get(id=payout.id)).status == "PENDING_APPROVAL"

    admin = await client_for("platform_admin")
    approved = (await admin.execute(APPROVE, {"id": gid("Payout", payout.id)}))["approvePayout"]
    assert approved["payout"]["status"] == "APPROVED"
    failed = await admin.execute(FAILED, {"id": gid("Payout", payout.id), "reason": "test over"})
    assert failed["markPayoutFailed"]["payout"] == {"status": "FAILED", "failureReason": "test over"}


async def test_a_recently_changed_bank_account_takes_two_people(finance_client, client_for, operator, runtime):
    party = await payee(operator, runtime, bank_changed=timedelta(hours=2))
    payout_id = gid("Payout", (await pending_payout(runtime, party.id, 100)).id)
    first = (await finance_client.execute(APPROVE, {"id": payout_id}))["approvePayout"]
    assert first["approvalsRemaining"] == 1 and first["payout"]["status"] == "PENDING_APPROVAL"
    assert first["payout"]["firstApprovedByUserId"] is not None
    same = (await finance_client.execute(APPROVE, {"id": payout_id}))["approvePayout"]
    assert same["code"] == "SAME_PERSON"
    admin = await client_for("platform_admin")
    second = (await admin.execute(APPROVE, {"id": payout_id}))["approvePayout"]
    assert second["approvalsRemaining"] == 0 and second["payout"]["status"] == "APPROVED"
    await admin.execute(FAILED, {"id": payout_id, "reason": "test over"})


async def test_the_bank_file_lists_the_approved_payouts_and_the_same_key_returns_it_again(
    finance_client, operator, runtime
):
    await _sweep(finance_client)
    merchant = await payee(operator, runtime)
    courier = await payee(operator, runtime, kind=PartyKind.LOGISTICS)
    payouts = [await pending_payout(runtime, merchant.id, 12_345), await pending_payout(runtime, courier.id, 55)]
    for payout in payouts:
        await finance_client.execute(APPROVE, {"id": gid("Payout", payout.id)})
    key = f"bank-file-{secrets.token_hex(4)}"

    exported = (await finance_client.execute(EXPORT, {"key": key}))["exportPayoutBatch"]
    assert exported["__typename"] == "ExportPayoutBatchSuccess" and not exported["replayed"]
    assert exported["payoutCount"] == 2 and exported["totals"] == [{"amount": "124.00", "currency": "CNY"}]
    assert {(p["id"], p["status"], p["batchId"]) for p in exported["payouts"]} == {
        (gid("Payout", p.id), "SENT", exported["batchId"]) for p in payouts
    }
    rows = list(csv.DictReader(io.StringIO(exported["csv"])))
    assert [(r["payout_id"], r["party_id"], r["amount"]) for r in rows] == [
        (gid("Payout", payouts[0].id), gid("Merchant", merchant.id), "123.45"),
        (gid("Payout", payouts[1].id), gid("LogisticsPartner", courier.id), "0.55"),
    ]
    assert all(row["account_number"].startswith("6222") and len(row["account_number"]) == 16 for row in rows)

    replayed = (await finance_client.execute(EXPORT, {"key": key}))["exportPayoutBatch"]
    assert replayed["replayed"] and replayed["batchId"] == exported["batchId"]
    assert replayed["csv"] == exported["csv"] and replayed["totals"] == exported["totals"]

    empty = (await finance_client.execute(EXPORT, {"key": f"empty-{secrets.token_hex(4)}"}))["exportPayoutBatch"]
    assert empty["payoutCount"] == 0 and empty["totals"] == [] and empty["csv"].count("\r\n") == 1


async def test_a_payout_id_of_another_type_or_a_missing_one_is_not_found(finance_client):
    for payout_id in (gid("Payment", 1), gid("Payout", 999_999_999)):
        result = (await finance_client.execute(APPROVE, {"id": payout_id}))["approvePayout"]
        assert (result["__typename"], result["code"], result["field"]) == ("NotFoundError", "NOT_FOUND", "payoutId")
    bad = (await finance_client.execute(PAID, {"id": gid("Payout", 1), "ref": " "}))["markPayoutPaid"]
    assert (bad["code"], bad["field"]) == ("INVALID_INPUT", "bankReference")


# --- who sees which payouts ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def two_parties_payouts(world, runtime):
    """Two merchants and two couriers, each with one payout."""
    operator = operator_principal(world.platform_id)
    found = {}
    kinds = {"m1": PartyKind.MERCHANT, "m2": PartyKind.MERCHANT, "c1": PartyKind.LOGISTICS, "c2": PartyKind.LOGISTICS}
    for label, kind in kinds.items():
        party = await payee(operator, runtime, kind=kind)
        found[label] = (party, await pending_payout(runtime, party.id, 100))
    return found


def _ids(data) -> set[str]:
    return {edge["node"]["id"] for edge in data["payouts"]["edges"]}


@pytest.mark.parametrize(
    ("role", "own", "other", "type_name"),
    [
        ("merchant_finance", "m1", "m2", "Merchant"),
        ("merchant_admin", "m1", "c1", "LogisticsPartner"),
        ("logistics_partner", "c1", "c2", "LogisticsPartner"),
        ("logistics_partner", "c1", "m1", "Merchant"),
    ],
)
async def test_a_party_does_not_see_another_partys_payouts(
    app, anonymous_client, make_user, two_parties_payouts, role, own, other, type_name
):
    own_party, own_payout = two_parties_payouts[own]
    other_party, other_payout = two_parties_payouts[other]
    client = await _login(app, anonymous_client, make_user, role, own_party.id)
    try:
        assert _ids(await client.execute(PAYOUTS)) == {gid("Payout", own_payout.id)}
        assert _ids(await client.execute(PAYOUTS, {"party": gid(type_name, other_party.id)})) == set()
        assert (await client.execute(PAYOUT, {"id": gid("Payout", other_payout.id)}))["payout"] is None
        assert (await client.execute(NODE, {"id": gid("Payout", other_payout.id)}))["node"] is None
        assert (await client.execute(NODE, {"id": gid("Payout", own_payout.id)}))["node"]["status"]
        body = await client.execute(APPROVE, {"id": gid("Payout", own_payout.id)}, expect_errors=True)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finally:
        await client.http.aclose()


async def test_platform_staff_see_every_partys_payouts_and_filter_them(auditor_client, two_parties_payouts):
    every = _ids(await auditor_client.execute(PAYOUTS, {"status": "PENDING_APPROVAL"}))
    assert {gid("Payout", payout.id) for _, payout in two_parties_payouts.values()} <= every
    party, payout = two_parties_payouts["c2"]
    assert _ids(await auditor_client.execute(PAYOUTS, {"party": gid("LogisticsPartner", party.id)})) == {
        gid("Payout", payout.id)
    }
    paid = await auditor_client.execute(PAYOUTS, {"status": "PAID", "party": gid("LogisticsPartner", party.id)})
    assert _ids(paid) == set()
    body = await auditor_client.execute(APPROVE, {"id": gid("Payout", payout.id)}, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_api_key_can_never_approve_a_payout(app, client_for, world, two_parties_payouts):
    admin = await client_for("platform_admin")
    create = """mutation($p: ID!, $perms: [String!]!) { createApiKey(input: {partyId: $p, name: "bank robot",
      permissions: $perms}) { __typename ... on CreateApiKeySuccess { key } ... on UserError { code field } } }"""
    platform = gid("Platform", world.platform_id)
    refused = await admin.execute(create, {"p": platform, "perms": ["payouts:read", "payouts:approve"]})
    assert refused["createApiKey"]["code"] == "PERMISSION_NOT_GRANTABLE"
    created = (await admin.execute(create, {"p": platform, "perms": ["payouts:read"]}))["createApiKey"]
    _, payout = two_parties_payouts["m2"]
    async with http_client(app, created["key"]) as http:
        key = Api(http)
        assert gid("Payout", payout.id) in _ids(await key.execute(PAYOUTS))
        for operation, variables in (
            (APPROVE, {"id": gid("Payout", payout.id)}),
            (FAILED, {"id": gid("Payout", payout.id), "reason": "by a key"}),
            (EXPORT, {"key": "by-a-key"}),
        ):
            body = await key.execute(operation, variables, expect_errors=True)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert (await Payout.get(id=payout.id)).status == "PENDING_APPROVAL"


# --- the settings --------------------------------------------------------------------------------------------


async def test_payout_settings_are_shown_checked_and_changed_by_a_platform_admin(client_for):
    admin, auditor = await client_for("platform_admin"), await client_for("platform_auditor")
    assert (await auditor.execute(SETTINGS))["platformSettings"] == {
        "payoutApprovalThresholds": [{"amount": "50000.00", "currency": "CNY"}],
        "bankChangeSecondApprovalHours": 72,
    }
    bad = (
        await admin.execute(
            SET_PAYOUT_SETTINGS,
            {"thresholds": [{"amount": "1.001", "currency": "CNY"}, {"amount": "5", "currency": "XYZ"}], "hours": 24},
        )
    )["updatePlatformSettings"]
    assert bad["__typename"] == "ValidationError"
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [
        ("TOO_MANY_DECIMALS", "payoutApprovalThresholds[0].amount"),
        ("UNKNOWN_CURRENCY", "payoutApprovalThresholds[1].currency"),
    ]
    hours = (await admin.execute(SET_PAYOUT_SETTINGS, {"hours": 721}))["updatePlatformSettings"]
    assert (hours["code"], hours["field"]) == ("INVALID_INPUT", "bankChangeSecondApprovalHours")
    assert (await auditor.execute(SETTINGS))["platformSettings"]["bankChangeSecondApprovalHours"] == 72
    try:
        changed = (
            await admin.execute(
                SET_PAYOUT_SETTINGS,
                {"thresholds": [{"amount": "100", "currency": "usd"}, {"amount": "8000.5", "currency": "CNY"}]},
            )
        )["updatePlatformSettings"]
        assert changed["settings"] == {
            "payoutApprovalThresholds": [
                {"amount": "8000.50", "currency": "CNY"},
                {"amount": "100.00", "currency": "USD"},
            ],
            "bankChangeSecondApprovalHours": 72,
        }
    finally:
        await admin.execute(SET_PAYOUT_SETTINGS, {"thresholds": [{"amount": "50000.00", "currency": "CNY"}]})
    assert (await auditor.execute(SETTINGS))["platformSettings"]["payoutApprovalThresholds"] == [
        {"amount": "50000.00", "currency": "CNY"}
    ]
