"""Changes that decide where money goes: who may make them (a person with two-factor, never a key), that each is
recorded, and that an API key dies with the user who created it."""

from __future__ import annotations

from domain.models import AuthEvent
from domain.services import parties, payments
from domain.services.parties import BankAccountDraft, MerchantChanges, MerchantDraft
from tests.conftest import Api, gid, http_client, payment_input, unique

CREATE_KEY = """mutation($p: ID!, $perms: [String!]!) {
  createApiKey(input: {partyId: $p, name: "partner", permissions: $perms}) {
    __typename ... on CreateApiKeySuccess { key apiKey { id } } } }"""
UPDATE = "mutation($id: ID!) { updateMerchant(input: {id: $id, %s}) { __typename } }"
BANK = 'bankAccount: {holderName: "H", bankName: "B", accountNumber: "6222000011112222"}'


async def _codes(api: Api, query: str, variables: dict) -> set[str | None]:
    body = await api.execute(query, variables, expect_errors=True)
    return {(error.get("extensions") or {}).get("code") for error in body.get("errors") or []}


async def test_a_platform_api_key_with_merchants_write_changes_no_kyc_status_and_no_bank_account(
    app, client_for, make_merchant, world
):
    admin = await client_for("platform_admin")
    created = (
        await admin.execute(CREATE_KEY, {"p": gid("Platform", world.platform_id), "perms": ["merchants:write"]})
    )["createApiKey"]
    merchant = await make_merchant()
    async with http_client(app, created["key"]) as http:
        key = Api(http)
        merchant_id = gid("Merchant", merchant.id)
        assert await _codes(key, UPDATE % "kycStatus: SUSPENDED", {"id": merchant_id}) == {"MFA_REQUIRED"}
        assert await _codes(key, UPDATE % BANK, {"id": merchant_id}) == {"MFA_REQUIRED"}
        create = 'mutation { createMerchant(input: {name: "%s", kycStatus: VERIFIED}) { __typename } }'
        assert await _codes(key, create % unique("Keyed"), {}) == {"MFA_REQUIRED"}
        # What the permission is for still works: the tier is not a two-factor matter.
        assert (await key.execute(UPDATE % "tier: GOLD", {"id": merchant_id}))["updateMerchant"][
            "__typename"
        ] == "UpdateMerchantSuccess"
    assert (await parties.get_party(_operator(world), merchant.id)).kyc_status.value == "VERIFIED"


def _operator(world):
    from tests.conftest import operator_principal

    return operator_principal(world.platform_id)


async def test_every_change_of_a_merchant_and_of_a_bank_account_is_recorded(runtime, operator):
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(name=unique("Recorded"), bank_account=BankAccountDraft("H", "Bank", "6222000011113333")),
    )
    await parties.update_merchant(operator, runtime, merchant.id, MerchantChanges(tier=parties.MerchantTier.GOLD))
    await parties.update_merchant(
        operator, runtime, merchant.id, MerchantChanges(bank_account=BankAccountDraft("H", "Bank", "6222000011114444"))
    )
    events = [(e.kind, e.detail) for e in await AuthEvent.filter(party_id=merchant.id).order_by("id")]
    assert [kind for kind, _ in events] == [
        "merchant_created",
        "bank_account_changed",
        "merchant_updated",
        "merchant_updated",
        "bank_account_changed",
    ]
    assert events[2][1] == "tier STANDARD -> GOLD"
    assert events[4][1] == "bank account now Bank ****4444" and "6222" not in (events[4][1] or "")


async def test_every_payment_batch_is_recorded(runtime, operator, world):
    before = await AuthEvent.filter(kind="payment_batch_recorded").count()
    await payments.record_payments(
        operator, runtime, [payment_input(world.merchant_a_id), payment_input(world.merchant_a_id)]
    )
    await payments.record_payments(operator, runtime, [payment_input(world.merchant_a_id, total_amount="1.00")])
    events = await AuthEvent.filter(kind="payment_batch_recorded").order_by("-id").limit(2)
    assert await AuthEvent.filter(kind="payment_batch_recorded").count() == before + 2
    assert events[0].detail == "1 payments: 0 recorded or already recorded, 1 refused"
    assert events[1].detail == "2 payments: 2 recorded or already recorded, 0 refused"


async def test_an_api_key_shows_its_creator_and_stops_working_when_the_creator_is_disabled(
    app, anonymous_client, client_for, make_user, world
):
    creator = await make_user("merchant_admin", mfa=True)
    tokens = await anonymous_client.login_with_totp(creator.email, creator.totp_secret)
    async with http_client(app, tokens["accessToken"]) as http:
        created = (
            await Api(http).execute(CREATE_KEY, {"p": gid("Merchant", world.merchant_a_id), "perms": ["parties:read"]})
        )["createApiKey"]
    admin = await client_for("platform_admin")
    listed = await admin.execute("{ apiKeys(first: 100) { edges { node { id createdBy { email } } } } }")
    by_id = {edge["node"]["id"]: edge["node"] for edge in listed["apiKeys"]["edges"]}
    assert by_id[created["apiKey"]["id"]]["createdBy"] == {"email": creator.email}
    async with http_client(app, created["key"]) as http:
        assert (await http.post("/graphql", json={"query": "{ merchants { edges { cursor } } }"})).status_code == 200
        await admin.execute(
            "mutation($id: ID!) { disableUser(input: {id: $id}) { __typename } }", {"id": gid("User", creator.user_id)}
        )
        assert (await http.post("/graphql", json={"query": "{ merchants { edges { cursor } } }"})).status_code == 401
    node = await admin.execute(
        "query($id: ID!) { node(id: $id) { ... on ApiKey { revokedAt } } }", {"id": created["apiKey"]["id"]}
    )
    assert node["node"]["revokedAt"] is not None
    assert await AuthEvent.filter(kind="api_key_revoked", detail__contains="its creator").exists()
