"""Bank account numbers: ciphertext in the database, last 4 in the API, the full number only with pii:reveal."""

from __future__ import annotations

from tortoise import connections

from tests.conftest import unique

CREATE = """mutation($input: CreateMerchantInput!) { createMerchant(input: $input) {
  ... on CreateMerchantSuccess { merchant { id } } } }"""
READ = "query($id: ID!) { merchant(id: $id) { bankAccount { accountNumberMasked accountNumber } } }"
READ_MASKED = "query($id: ID!) { merchant(id: $id) { bankAccount { accountNumberMasked } } }"
NUMBER = "6222021001239876"


async def _merchant_with_account(operations_client) -> str:
    data = await operations_client.execute(
        CREATE,
        {
            "input": {
                "name": unique("Pii"),
                "bankAccount": {"holderName": "Holder", "bankName": "Bank", "accountNumber": NUMBER},
            }
        },
    )
    return data["createMerchant"]["merchant"]["id"]


async def test_the_database_column_holds_ciphertext_only(operations_client):
    await _merchant_with_account(operations_client)
    rows = await connections.get("default").execute_query_dict(
        "SELECT bank_account_ciphertext, bank_account_last4 FROM parties WHERE bank_account_last4 = '9876'"
    )
    assert rows
    for row in rows:
        assert NUMBER not in row["bank_account_ciphertext"] and row["bank_account_ciphertext"].startswith("v1:")


async def test_without_pii_reveal_only_the_last_four_are_shown(operations_client):
    merchant_id = await _merchant_with_account(operations_client)
    masked = await operations_client.execute(READ_MASKED, {"id": merchant_id})
    assert masked["merchant"]["bankAccount"]["accountNumberMasked"] == "****9876"
    body = await operations_client.execute(READ, {"id": merchant_id}, expect_errors=True)
    assert body["data"]["merchant"]["bankAccount"]["accountNumber"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert NUMBER not in str(body)


async def test_with_pii_reveal_the_full_number_is_shown(operations_client, finance_client):
    merchant_id = await _merchant_with_account(operations_client)
    data = await finance_client.execute(READ, {"id": merchant_id})
    assert data["merchant"]["bankAccount"]["accountNumber"] == NUMBER


async def test_the_auditor_reads_everything_but_pii(operations_client, auditor_client):
    merchant_id = await _merchant_with_account(operations_client)
    body = await auditor_client.execute(READ, {"id": merchant_id}, expect_errors=True)
    assert body["data"]["merchant"]["bankAccount"]["accountNumberMasked"] == "****9876"
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
