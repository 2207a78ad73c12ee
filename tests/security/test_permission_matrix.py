"""The permission matrix: for every root field and every kind of caller, allowed or denied.

One table below declares it. The test runs every field as every caller with harmless arguments (ids that do
not exist, inputs that fail validation) and checks that permission errors appear exactly where the table says
"deny". A root field missing from the table fails the test, so a new field cannot ship undecided.
"""

from __future__ import annotations

import base64

import pytest

from schema import build_schema
from tests.conftest import Api, http_client

PLATFORM = {"platform_admin", "platform_finance", "platform_operations", "platform_risk", "platform_auditor"}
MERCHANT = {"merchant_admin", "merchant_finance", "merchant_staff"}
OTHER_PARTIES = {"logistics_partner", "supplier"}
USERS = PLATFORM | MERCHANT | OTHER_PARTIES
EVERYONE = USERS | {"api_key", "anonymous"}
LOGGED_IN = USERS | {"api_key"}

RULE_READERS = {"platform_admin", "platform_finance", "platform_operations", "platform_auditor", "merchant_admin"}
LEDGER_READERS = (PLATFORM | MERCHANT | OTHER_PARTIES) - {"merchant_staff"}
SETTLEMENT_READERS = (PLATFORM | MERCHANT | OTHER_PARTIES) - {"merchant_staff", "platform_risk"}
SETTLEMENT_RUNNERS = {"platform_admin", "platform_finance"}

# field -> the callers allowed to use it. The API key is a logistics partner's key with parties:read and
# payments:read. The merchant admin here has passed two-factor login.
MATRIX: dict[str, set[str]] = {
    # queries
    "node": LOGGED_IN,
    "me": USERS,
    "viewer": LOGGED_IN,
    "sessions": USERS,
    "merchants": LOGGED_IN,
    "merchant": LOGGED_IN,
    "logisticsPartners": LOGGED_IN,
    "suppliers": LOGGED_IN,
    "users": {"platform_admin", "platform_auditor", "merchant_admin"},
    "apiKeys": {"platform_admin", "platform_auditor", "merchant_admin"},
    "authEvents": {"platform_admin", "platform_auditor"},
    "platformSettings": {"platform_admin", "platform_auditor"},
    # mutations
    "login": EVERYONE,
    "verifyMfa": EVERYONE,
    "refreshToken": EVERYONE,
    "beginTotpEnrollment": EVERYONE,
    "confirmTotpEnrollment": EVERYONE,
    "logout": USERS,
    "revokeSession": USERS,
    "changePassword": USERS,
    "createMerchant": {"platform_admin", "platform_operations"},
    "updateMerchant": {"platform_admin", "platform_operations"},
    "createLogisticsPartner": {"platform_admin", "platform_operations"},
    "createSupplier": {"platform_admin", "platform_operations"},
    "createUser": {"platform_admin", "merchant_admin"},
    "updateUserRole": {"platform_admin", "merchant_admin"},
    "disableUser": {"platform_admin", "merchant_admin"},
    "resetUserMfa": {"platform_admin", "merchant_admin"},
    "unlockUser": {"platform_admin", "merchant_admin"},
    "createApiKey": {"platform_admin", "merchant_admin"},
    "revokeApiKey": {"platform_admin", "merchant_admin"},
    "updatePlatformSettings": {"platform_admin"},
    # split rules
    "splitRules": RULE_READERS,
    "splitRule": RULE_READERS,
    "backtestSplitRule": RULE_READERS,
    "previewSplit": RULE_READERS,
    "createSplitRule": {"platform_admin", "platform_operations"},
    "updateSplitRule": {"platform_admin", "platform_operations"},
    "archiveSplitRule": {"platform_admin"},
    "activateSplitRule": {"platform_admin"},
    # payments
    "payments": LOGGED_IN,
    "payment": LOGGED_IN,
    "paymentByExternalId": LOGGED_IN,
    "recordPayment": {"platform_admin", "platform_operations"},
    "recordPayments": {"platform_admin", "platform_operations"},
    # ledger
    "ledgerEntries": LEDGER_READERS,
    "balances": LEDGER_READERS,
    "verifyLedger": PLATFORM,
    # money going out
    "settlements": SETTLEMENT_READERS,
    "settlement": SETTLEMENT_READERS,
    "settlementRuns": SETTLEMENT_RUNNERS,
    "myShares": LOGGED_IN,
    "confirmDelivery": {"platform_admin", "platform_operations", "logistics_partner"},
    "releaseHeldFunds": SETTLEMENT_RUNNERS,
    "runSettlement": SETTLEMENT_RUNNERS,
    "updateSettlementProfile": {"platform_admin", "platform_operations"},
    # payouts
    "payouts": {
        "platform_admin",
        "platform_finance",
        "platform_auditor",
        "merchant_admin",
        "merchant_finance",
        "logistics_partner",
        "supplier",
    },
    "payout": {
        "platform_admin",
        "platform_finance",
        "platform_auditor",
        "merchant_admin",
        "merchant_finance",
        "logistics_partner",
        "supplier",
    },
    "approvePayout": {"platform_admin", "platform_finance"},
    "markPayoutSent": {"platform_admin", "platform_finance"},
    "markPayoutPaid": {"platform_admin", "platform_finance"},
    "markPayoutFailed": {"platform_admin", "platform_finance"},
    "exportPayoutBatch": {"platform_admin", "platform_finance"},
    # refunds (refunds:read: every platform and merchant role; refunds:create: see auth/roles.py)
    "refunds": PLATFORM | MERCHANT | OTHER_PARTIES,
    "refund": PLATFORM | MERCHANT | OTHER_PARTIES,
    "createRefund": {"platform_admin", "platform_finance", "platform_operations", "merchant_admin"},
}

MISSING_MERCHANT = base64.b64encode(b"Merchant:999999999").decode()
MISSING_USER = base64.b64encode(b"User:999999999").decode()
MISSING_KEY = base64.b64encode(b"ApiKey:999999999").decode()
MISSING_SESSION = base64.b64encode(b"Session:999999999").decode()
MISSING_RULE = base64.b64encode(b"SplitRule:999999999").decode()
MISSING_PAYMENT = base64.b64encode(b"Payment:999999999").decode()
MISSING_VERSION = base64.b64encode(b"SplitRuleVersion:999999999").decode()
MISSING_SETTLEMENT = base64.b64encode(b"Settlement:999999999").decode()
NO_LEGS_RULE = '{name: "m", legs: []}'
PAYMENT = (
    f'{{merchantId: "{MISSING_MERCHANT}", currency: "CNY", totalAmount: "1.00", '
    'lineItems: [{sku: "s", category: "c", unitAmount: "1.00"}]}'
)

# field -> an operation that exercises it without changing anything that matters.
OPERATIONS: dict[str, str] = {
    "node": f'{{ node(id: "{MISSING_MERCHANT}") {{ id }} }}',
    "me": "{ me { email } }",
    "viewer": "{ viewer { kind permissions } }",
    "sessions": "{ sessions { edges { cursor } } }",
    "merchants": "{ merchants { edges { cursor } } }",
    "merchant": f'{{ merchant(id: "{MISSING_MERCHANT}") {{ id }} }}',
    "logisticsPartners": "{ logisticsPartners { edges { cursor } } }",
    "suppliers": "{ suppliers { edges { cursor } } }",
    "users": "{ users { edges { cursor } } }",
    "apiKeys": "{ apiKeys { edges { cursor } } }",
    "authEvents": "{ authEvents(first: 1) { edges { cursor } } }",
    "platformSettings": "{ platformSettings { partyUsersRequireMfa } }",
    "login": 'mutation { login(input: {email: "matrix@nowhere.example", password: "x"}) { __typename } }',
    "verifyMfa": 'mutation { verifyMfa(input: {challengeToken: "slm_none", code: "000000"}) { __typename } }',
    "refreshToken": 'mutation { refreshToken(input: {refreshToken: "slr_none"}) { __typename } }',
    "beginTotpEnrollment": 'mutation { beginTotpEnrollment(input: {enrollmentToken: "slm_none"}) { __typename } }',
    "confirmTotpEnrollment": 'mutation { confirmTotpEnrollment(input: {enrollmentToken: "slm_none", '
    'code: "000000"}) { __typename } }',
    "logout": "mutation { logout { __typename } }",
    "revokeSession": f'mutation {{ revokeSession(input: {{id: "{MISSING_SESSION}"}}) {{ __typename }} }}',
    "changePassword": 'mutation { changePassword(input: {currentPassword: "wrong", newPassword: "short"}) '
    "{ __typename } }",
    "createMerchant": 'mutation { createMerchant(input: {name: "  "}) { __typename } }',
    "updateMerchant": f'mutation {{ updateMerchant(input: {{id: "{MISSING_MERCHANT}"}}) {{ __typename }} }}',
    "createLogisticsPartner": 'mutation { createLogisticsPartner(input: {name: ""}) { __typename } }',
    "createSupplier": 'mutation { createSupplier(input: {name: ""}) { __typename } }',
    "createUser": 'mutation { createUser(input: {email: "not-an-email", password: "a-long-enough-password", '
    'role: MERCHANT_STAFF, partyId: "PARTY"}) { __typename } }',
    "updateUserRole": f'mutation {{ updateUserRole(input: {{id: "{MISSING_USER}", role: MERCHANT_STAFF}}) '
    "{ __typename } }",
    "disableUser": f'mutation {{ disableUser(input: {{id: "{MISSING_USER}"}}) {{ __typename }} }}',
    "resetUserMfa": f'mutation {{ resetUserMfa(input: {{id: "{MISSING_USER}"}}) {{ __typename }} }}',
    "unlockUser": f'mutation {{ unlockUser(input: {{id: "{MISSING_USER}"}}) {{ __typename }} }}',
    "createApiKey": 'mutation { createApiKey(input: {partyId: "PARTY", name: "m", permissions: []}) { __typename } }',
    "revokeApiKey": f'mutation {{ revokeApiKey(input: {{id: "{MISSING_KEY}"}}) {{ __typename }} }}',
    "updatePlatformSettings": "mutation { updatePlatformSettings(input: {}) { __typename } }",
    "splitRules": "{ splitRules { edges { cursor } } }",
    "splitRule": f'{{ splitRule(id: "{MISSING_RULE}") {{ id }} }}',
    "backtestSplitRule": f'{{ backtestSplitRule(draft: {NO_LEGS_RULE}, from: "2026-01-01T00:00:00Z", '
    'to: "2026-01-02T00:00:00Z") { payments } }',
    "previewSplit": f"{{ previewSplit(input: {PAYMENT}) {{ total {{ amount }} }} }}",
    "createSplitRule": f"mutation {{ createSplitRule(input: {NO_LEGS_RULE}) {{ __typename }} }}",
    "updateSplitRule": f'mutation {{ updateSplitRule(input: {{id: "{MISSING_RULE}", name: "m", legs: []}}) '
    "{ __typename } }",
    "archiveSplitRule": f'mutation {{ archiveSplitRule(input: {{id: "{MISSING_RULE}"}}) {{ __typename }} }}',
    "activateSplitRule": f'mutation {{ activateSplitRule(input: {{id: "{MISSING_RULE}", '
    f'versionId: "{MISSING_VERSION}"}}) '
    "{ __typename } }",
    "payments": "{ payments { edges { cursor } } }",
    "payment": f'{{ payment(id: "{MISSING_PAYMENT}") {{ id }} }}',
    "paymentByExternalId": f'{{ paymentByExternalId(merchantId: "{MISSING_MERCHANT}", externalOrderId: "x") '
    "{ id } }",
    "recordPayment": "mutation { recordPayment(input: "
    + PAYMENT.replace(
        "{merchantId", '{idempotencyKey: "k", externalOrderId: "o", paidAt: "2026-01-01T00:00:00Z", merchantId'
    )
    + ") { __typename } }",
    "recordPayments": "mutation { recordPayments(inputs: []) { succeeded } }",
    "ledgerEntries": "{ ledgerEntries(first: 1) { edges { cursor } } }",
    "balances": f'{{ balances(partyId: "{MISSING_MERCHANT}") {{ bucket }} }}',
    "verifyLedger": "{ verifyLedger { ok } }",
    "settlements": "{ settlements(first: 1) { edges { cursor } } }",
    "settlement": f'{{ settlement(id: "{MISSING_SETTLEMENT}") {{ id }} }}',
    "settlementRuns": "{ settlementRuns(first: 1) { edges { cursor } } }",
    "myShares": '{ myShares(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { state } }',
    "confirmDelivery": f'mutation {{ confirmDelivery(input: {{paymentId: "{MISSING_PAYMENT}", '
    'deliveredAt: "2026-01-01T00:00:00Z"}) { __typename } }',
    "releaseHeldFunds": 'mutation { releaseHeldFunds(input: {asOf: "2100-01-01T00:00:00Z"}) { __typename } }',
    "runSettlement": 'mutation { runSettlement(input: {cutoff: "2100-01-01T00:00:00Z"}) { __typename } }',
    "updateSettlementProfile": 'mutation { updateSettlementProfile(input: {partyId: "PARTY", '
    'settlementProfile: {currency: "XXX"}}) { __typename } }',
    # payouts (a payout that does not exist; an export key that is refused before anything is exported)
    "payouts": "{ payouts(first: 1) { edges { cursor } } }",
    "payout": '{ payout(id: "UGF5b3V0Ojk5OTk5OTk5OQ==") { id } }',
    "approvePayout": 'mutation { approvePayout(input: {payoutId: "UGF5b3V0Ojk5OTk5OTk5OQ=="}) { __typename } }',
    "markPayoutSent": 'mutation { markPayoutSent(input: {payoutId: "UGF5b3V0Ojk5OTk5OTk5OQ=="}) { __typename } }',
    "markPayoutPaid": 'mutation { markPayoutPaid(input: {payoutId: "UGF5b3V0Ojk5OTk5OTk5OQ==", bankReference: "r"}) '
    "{ __typename } }",
    "markPayoutFailed": 'mutation { markPayoutFailed(input: {payoutId: "UGF5b3V0Ojk5OTk5OTk5OQ==", reason: "r"}) '
    "{ __typename } }",
    "exportPayoutBatch": 'mutation { exportPayoutBatch(input: {idempotencyKey: ""}) { __typename } }',
    # refunds (a refund that does not exist; a refund of a payment that does not exist, refused before writing)
    "refunds": "{ refunds(first: 1) { edges { cursor } } }",
    "refund": '{ refund(id: "UmVmdW5kOjk5OTk5OTk5OQ==") { id } }',
    "createRefund": f'mutation {{ createRefund(input: {{paymentId: "{MISSING_PAYMENT}", amount: "1.00", '
    'reason: "r", idempotencyKey: "k"}) { __typename } }',
}
# disputes: read with refunds:read (the platform every one, a merchant its own, other parties none); opened and
# resolved by the platform's holders of refunds:create only (a merchant admin holds it, for refunds, and is refused).
MISSING_DISPUTE = base64.b64encode(b"Dispute:999999999").decode()
DISPUTE_READERS = PLATFORM | MERCHANT | OTHER_PARTIES
DISPUTE_DECIDERS = {"platform_admin", "platform_finance", "platform_operations"}
MATRIX |= {
    "disputes": DISPUTE_READERS,
    "dispute": DISPUTE_READERS,
    "openDispute": DISPUTE_DECIDERS,
    "resolveDispute": DISPUTE_DECIDERS,
}
OPERATIONS |= {
    "disputes": "{ disputes(first: 1) { edges { cursor } } }",
    "dispute": f'{{ dispute(id: "{MISSING_DISPUTE}") {{ id }} }}',
    "openDispute": f'mutation {{ openDispute(input: {{paymentId: "{MISSING_PAYMENT}", amount: "1.00", reason: "r", '
    'evidenceDueAt: "2030-01-01T00:00:00Z", idempotencyKey: "k"}) { __typename } }',
    "resolveDispute": f'mutation {{ resolveDispute(input: {{disputeId: "{MISSING_DISPUTE}", outcome: WON}}) '
    "{ __typename } }",
}

DENIED_CODES = {"FORBIDDEN", "UNAUTHENTICATED", "MFA_REQUIRED"}
# Logout ends the session, so it runs last for each caller.
ORDER = sorted(OPERATIONS, key=lambda name: name == "logout")


def root_fields() -> set[str]:
    schema = build_schema()._schema
    fields = set(schema.query_type.fields) | set(schema.mutation_type.fields)
    if schema.subscription_type is not None:
        fields |= set(schema.subscription_type.fields)
    return fields


def test_every_root_field_is_in_the_matrix():
    assert set(MATRIX) == root_fields(), "decide who may use each new field in MATRIX"
    assert set(OPERATIONS) == set(MATRIX)
    assert all(allowed <= EVERYONE for allowed in MATRIX.values())


@pytest.fixture(scope="module")
async def matrix_callers(app, anonymous_client, client_for, world):
    """One logged-in API client per kind of caller, on fresh sessions (logout will end them)."""
    from domain.services import identity

    runtime = app.state.runtime
    callers: dict[str, tuple[Api, str]] = {}
    opened = []
    for role in sorted(USERS):
        party, prefix = world.party_for_role(role)
        email = f"matrix.{role}.{world.platform_id}@test.example".replace("_", ".")
        user = await identity.create_user_unchecked(email, "correct-horse-battery-staple", role, party)
        # Two-factor login is required of everyone by default.
        from auth import totp

        secret = totp.new_secret()
        await identity.enroll_totp_unchecked(runtime, user.id, secret)
        tokens = await anonymous_client.login_with_totp(email, secret)
        assert tokens["__typename"] == "AuthTokens", (role, tokens)
        http = http_client(app, tokens["accessToken"])
        opened.append(http)
        callers[role] = (Api(http), base64.b64encode(f"{prefix}:{party}".encode()).decode())
    admin = await client_for("platform_admin")
    created = await admin.execute(
        'mutation($p: ID!) { createApiKey(input: {partyId: $p, name: "matrix", permissions: ["parties:read", '
        '"payments:read"]}) { ... on CreateApiKeySuccess { key } } }',
        {"p": base64.b64encode(f"LogisticsPartner:{world.logistics_a_id}".encode()).decode()},
    )
    http = http_client(app, created["createApiKey"]["key"])
    opened.append(http)
    callers["api_key"] = (Api(http), base64.b64encode(f"LogisticsPartner:{world.logistics_a_id}".encode()).decode())
    callers["anonymous"] = (anonymous_client, base64.b64encode(f"Platform:{world.platform_id}".encode()).decode())
    yield callers
    for client in opened:
        await client.aclose()


@pytest.mark.parametrize("caller", sorted(EVERYONE))
async def test_permissions_follow_the_matrix(matrix_callers, caller):
    api, own_party = matrix_callers[caller]
    wrong = []
    for field in ORDER:
        body = await api.execute(OPERATIONS[field].replace("PARTY", own_party), expect_errors=True)
        codes = {(error.get("extensions") or {}).get("code") for error in body.get("errors") or []}
        denied = bool(codes & DENIED_CODES)
        allowed = caller in MATRIX[field]
        if denied == allowed:
            wrong.append(f"{field}: expected {'allow' if allowed else 'deny'}, got {body}")
    assert not wrong, "\n".join(wrong)
