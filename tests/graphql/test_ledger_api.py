"""The ledger through the API: entry pages of a fixed cost, and what the verification reports."""

from __future__ import annotations

import logging

from strawberry import relay
from tortoise.transactions import in_transaction

from domain.ledger import capture
from domain.services import ledger
from schema.ledger import queries as ledger_queries
from tests.conftest import Api, http_client

ENTRIES = """query($first: Int!) { ledgerEntries(first: $first) {
  edges { node { id kind memo postings { account bucket amount { amount currency } } } }
  pageInfo { hasNextPage } } }"""


async def test_a_page_of_entries_costs_the_same_statements_whatever_its_size(
    app, anonymous_client, make_merchant, make_user, caplog
):
    merchant = await make_merchant()
    async with in_transaction():
        await ledger.post_entries([capture("CNY", 100, {merchant.id: 100}, memo=f"m{n}") for n in range(20)])
    login = await make_user("merchant_finance", merchant.id)
    tokens = await anonymous_client.login_with_totp(login.email, login.totp_secret)
    async with http_client(app, tokens["accessToken"]) as http:
        client = Api(http)
        counts = []
        for first in (1, 20):
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
                page = (await client.execute(ENTRIES, {"first": first}))["ledgerEntries"]
            counts.append(sum(1 for record in caplog.records if record.name == "tortoise.db_client"))
            assert len(page["edges"]) == first
            assert {p["bucket"] for e in page["edges"] for p in e["node"]["postings"]} == {"PENDING"}
    assert counts[0] == counts[1]


# --- verification ---------------------------------------------------------------------------------------------

VERIFY = """{ verifyLedger { ok entriesChecked accountsChecked paymentsChecked unbalancedEntryIds
  mismatchedAccountIds mismatchedAllocationPaymentIds mismatchedTotalPaymentIds mismatchedReleaseEntryIds
  mismatchedSettlementIds } }"""


async def test_verify_ledger_reports_payments_as_global_ids(finance_client, monkeypatch):
    clean = (await finance_client.execute(VERIFY))["verifyLedger"]
    assert clean["ok"] and clean["paymentsChecked"] >= 0
    assert clean["mismatchedAllocationPaymentIds"] == [] and clean["mismatchedTotalPaymentIds"] == []

    async def tampered(principal):
        return ledger.LedgerCheck(
            entries_checked=3,
            accounts_checked=2,
            payments_checked=1,
            unbalanced_entry_ids=[],
            mismatched_account_ids=[],
            mismatched_allocation_payment_ids=[41],
            mismatched_total_payment_ids=[42],
            mismatched_release_entry_ids=[43],
            mismatched_settlement_ids=[44],
        )

    monkeypatch.setattr(ledger_queries.ledger_service, "verify_ledger", tampered)
    found = (await finance_client.execute(VERIFY))["verifyLedger"]
    assert not found["ok"]
    assert found["mismatchedAllocationPaymentIds"] == [str(relay.GlobalID("Payment", "41"))]
    assert found["mismatchedTotalPaymentIds"] == [str(relay.GlobalID("Payment", "42"))]
    assert found["mismatchedReleaseEntryIds"] == [str(relay.GlobalID("JournalEntry", "43"))]
    assert found["mismatchedSettlementIds"] == [str(relay.GlobalID("Settlement", "44"))]
