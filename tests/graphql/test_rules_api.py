"""Split rules through the API: draft, preview, activate (two-factor, second approver), version, archive, backtest."""

from __future__ import annotations

from tests.conftest import Api, gid, http_client

CREATE = """mutation($input: SplitRuleInput!) { createSplitRule(input: $input) {
  __typename ... on SplitRuleSuccess { rule { id status versions { id version activatedAt } } }
  ... on UserError { code field message } } }"""
UPDATE = """mutation($input: UpdateSplitRuleInput!) { updateSplitRule(input: $input) {
  __typename ... on SplitRuleSuccess { rule { id status versions { id version activatedAt } } }
  ... on UserError { code field message } } }"""
ACTIVATE = """mutation($id: ID!, $version: ID!) { activateSplitRule(input: {id: $id, versionId: $version}) {
  __typename ... on SplitRuleSuccess { rule { status versions { id activatedAt } } } ... on UserError { code } } }"""
ARCHIVE = """mutation($id: ID!) { archiveSplitRule(input: {id: $id}) { __typename
  ... on SplitRuleSuccess { rule { status archiveRequested } } ... on UserError { code field } } }"""


def reviewed(rule: dict, version: int = -1) -> dict:
    """The variables that activate the version a reviewer saw (the newest, unless told)."""
    return {"id": rule["id"], "version": rule["versions"][version]["id"]}


PREVIEW = """query($i: PaymentInput!) { previewSplit(input: $i) { parties { role amount { amount } }
  lines { ruleVersionId } } }"""


def rule_input(merchant_id: int, rate_bps: int = 500, **overrides) -> dict:
    return {
        "name": "Tea commission",
        "priority": 5,
        "conditions": {"merchantIds": [gid("Merchant", merchant_id)], "categories": ["tea"]},
        "legs": [{"beneficiary": "PLATFORM", "basis": "ITEM_AMOUNT", "rateBps": rate_bps}],
    } | overrides


def preview_input(merchant_id: int) -> dict:
    return {
        "merchantId": gid("Merchant", merchant_id),
        "currency": "CNY",
        "totalAmount": "200.00",
        "lineItems": [
            {"sku": "t", "category": "tea", "unitAmount": "100.00"},
            {"sku": "s", "category": "silk", "unitAmount": "100.00"},
        ],
    }


async def _parties(api: Api, merchant_id: int) -> dict:
    result = (await api.execute(PREVIEW, {"i": preview_input(merchant_id)}))["previewSplit"]
    return {p["role"]: p["amount"]["amount"] for p in result["parties"]}


async def test_a_rule_applies_only_once_activated_and_edits_add_versions(client_for, make_merchant):
    operations, admin = await client_for("platform_operations"), await client_for("platform_admin")
    merchant = await make_merchant()
    created = (await operations.execute(CREATE, {"input": rule_input(merchant.id)}))["createSplitRule"]
    assert created["rule"]["status"] == "DRAFT" and created["rule"]["versions"][0]["activatedAt"] is None
    assert await _parties(operations, merchant.id) == {"MERCHANT": "200.00"}
    denied = await operations.execute(ACTIVATE, reviewed(created["rule"]), expect_errors=True)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # operations drafts, only approvers activate
    assert (await admin.execute(ACTIVATE, reviewed(created["rule"])))["activateSplitRule"]["rule"]["status"] == "ACTIVE"
    assert await _parties(operations, merchant.id) == {"PLATFORM": "5.00", "MERCHANT": "195.00"}
    updated = await operations.execute(
        UPDATE, {"input": rule_input(merchant.id, rate_bps=1000) | {"id": created["rule"]["id"]}}
    )
    versions = updated["updateSplitRule"]["rule"]["versions"]
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["activatedAt"] is None
    assert await _parties(operations, merchant.id) == {"PLATFORM": "5.00", "MERCHANT": "195.00"}
    await admin.execute(ACTIVATE, reviewed(updated["updateSplitRule"]["rule"]))
    assert await _parties(operations, merchant.id) == {"PLATFORM": "10.00", "MERCHANT": "190.00"}
    archived = (await admin.execute(ARCHIVE, {"id": created["rule"]["id"]}))["archiveSplitRule"]
    assert archived["rule"] == {"status": "ARCHIVED", "archiveRequested": False}
    assert await _parties(operations, merchant.id) == {"MERCHANT": "200.00"}


async def test_activation_activates_the_reviewed_version_not_one_slipped_in_after(client_for, make_merchant):
    operations, admin = await client_for("platform_operations"), await client_for("platform_admin")
    merchant = await make_merchant()
    created = (await operations.execute(CREATE, {"input": rule_input(merchant.id, rate_bps=500)}))["createSplitRule"]
    seen_by_the_approver = reviewed(created["rule"])
    # After review, the author adds a version that takes more.
    await operations.execute(UPDATE, {"input": rule_input(merchant.id, rate_bps=3000) | {"id": created["rule"]["id"]}})
    result = (await admin.execute(ACTIVATE, seen_by_the_approver))["activateSplitRule"]
    assert [v["activatedAt"] is not None for v in result["rule"]["versions"]] == [True, False]
    assert await _parties(operations, merchant.id) == {"PLATFORM": "5.00", "MERCHANT": "195.00"}
    other = (await operations.execute(CREATE, {"input": rule_input(merchant.id)}))["createSplitRule"]
    wrong = await admin.execute(ACTIVATE, {"id": other["rule"]["id"], "version": seen_by_the_approver["version"]})
    assert wrong["activateSplitRule"]["code"] == "NOT_FOUND"


async def test_archiving_needs_an_approver_two_factor_and_optionally_a_second_person(
    app, client_for, anonymous_client, make_user, make_merchant
):
    operations, admin = await client_for("platform_operations"), await client_for("platform_admin")
    merchant = await make_merchant()
    created = (await operations.execute(CREATE, {"input": rule_input(merchant.id)}))["createSplitRule"]
    await admin.execute(ACTIVATE, reviewed(created["rule"]))
    denied = await operations.execute(ARCHIVE, {"id": created["rule"]["id"]}, expect_errors=True)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # drafting rights do not switch rules off
    settings = (
        "mutation($on: Boolean!) { updatePlatformSettings(input: {rulesNeedSecondApprover: $on}) { __typename } }"
    )
    await admin.execute(settings, {"on": True})
    try:
        asked = (await admin.execute(ARCHIVE, {"id": created["rule"]["id"]}))["archiveSplitRule"]
        assert asked["rule"] == {"status": "ACTIVE", "archiveRequested": True}
        again = (await admin.execute(ARCHIVE, {"id": created["rule"]["id"]}))["archiveSplitRule"]
        assert again["code"] == "SECOND_APPROVER_REQUIRED"
        assert await _parties(operations, merchant.id) == {"PLATFORM": "5.00", "MERCHANT": "195.00"}
        second = await make_user("platform_admin")
        tokens = await anonymous_client.login_with_totp(second.email, second.totp_secret)
        async with http_client(app, tokens["accessToken"]) as http:
            done = (await Api(http).execute(ARCHIVE, {"id": created["rule"]["id"]}))["archiveSplitRule"]
        assert done["rule"] == {"status": "ARCHIVED", "archiveRequested": False}
        assert await _parties(operations, merchant.id) == {"MERCHANT": "200.00"}
    finally:
        await admin.execute(settings, {"on": False})


async def test_a_rule_in_an_unknown_currency_is_refused_and_the_rules_stay_readable(client_for, make_merchant):
    operations = await client_for("platform_operations")
    merchant = await make_merchant()
    result = (await operations.execute(CREATE, {"input": rule_input(merchant.id) | {"currency": "RMB"}}))[
        "createSplitRule"
    ]
    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "UNKNOWN_CURRENCY",
        "currency",
    )
    listed = await operations.execute(
        "{ splitRules(first: 100) { edges { node { id versions { legs { basis } } } } } }"
    )
    assert listed["splitRules"]["edges"]


async def test_bad_rules_are_refused_naming_the_field(client_for, make_merchant):
    operations = await client_for("platform_operations")
    merchant = await make_merchant()
    without_zone = "2020-01-01T00:00:00"
    party_leg = {"beneficiary": "PARTY", "basis": "ITEM_AMOUNT", "rateBps": 100}
    for rule, code, field in (
        # Each of these four was a server error before: a date without a zone failed every later payment, and
        # ids that int() or the database could not take failed the request.
        (
            rule_input(merchant.id) | {"conditions": {"activeFrom": without_zone}},
            "INVALID_INPUT",
            "conditions.activeFrom",
        ),
        (rule_input(merchant.id) | {"effectiveFrom": without_zone}, "INVALID_INPUT", "effectiveFrom"),
        (
            rule_input(merchant.id) | {"legs": [party_leg | {"partyId": gid("Supplier", "²")}]},
            "INVALID_ID",
            "legs[0].partyId",
        ),
        (
            rule_input(merchant.id) | {"conditions": {"merchantIds": [gid("Merchant", "9" * 30)]}},
            "INVALID_ID",
            "conditions.merchantIds[0]",
        ),
        (rule_input(merchant.id, rate_bps=3500), "ABOVE_MERCHANT_SHARE_CAP", "legs"),
        (rule_input(merchant.id, rate_bps=10_001), "RATE_ABOVE_100_PERCENT", "legs[0].rateBps"),
        (
            rule_input(merchant.id)
            | {
                "legs": [
                    {
                        "beneficiary": "PLATFORM",
                        "basis": "ITEM_AMOUNT",
                        "tiers": [
                            {"fromAmount": "0", "toAmount": "10.00", "rateBps": 100},
                            {"fromAmount": "20.00", "rateBps": 100},
                        ],
                    }
                ],
                "currency": "CNY",
            },
            "INVALID_TIERS",
            "legs[0].tiers",
        ),
        (
            rule_input(merchant.id)
            | {"legs": [{"beneficiary": "PLATFORM", "basis": "ITEM_AMOUNT", "fixedAmount": "1.00"}]},
            "INVALID_RULE",
            "currency",
        ),
    ):
        result = (await operations.execute(CREATE, {"input": rule}))["createSplitRule"]
        assert (result["__typename"], result["code"], result["field"]) == ("ValidationError", code, field), result


async def test_activation_needs_two_factor_and_optionally_a_second_person(
    app, client_for, anonymous_client, make_user, make_merchant
):
    admin = await client_for("platform_admin")
    merchant = await make_merchant()
    created = (await admin.execute(CREATE, {"input": rule_input(merchant.id)}))["createSplitRule"]
    settings = (
        "mutation($on: Boolean!) { updatePlatformSettings(input: {rulesNeedSecondApprover: $on}) { __typename } }"
    )
    await admin.execute(settings, {"on": True})
    try:
        own = (await admin.execute(ACTIVATE, reviewed(created["rule"])))["activateSplitRule"]
        assert own["code"] == "SECOND_APPROVER_REQUIRED"
        second = await make_user("platform_admin")
        tokens = await anonymous_client.login_with_totp(second.email, second.totp_secret)
        async with http_client(app, tokens["accessToken"]) as http:
            done = (await Api(http).execute(ACTIVATE, reviewed(created["rule"])))["activateSplitRule"]
        assert done["rule"]["status"] == "ACTIVE"
    finally:
        await admin.execute(settings, {"on": False})


async def test_backtest_compares_a_draft_with_what_parties_got(client_for, make_merchant):
    operations = await client_for("platform_operations")
    merchant = await make_merchant()
    record = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) { __typename } }"""
    for i in range(3):
        payment = preview_input(merchant.id) | {
            "idempotencyKey": f"bt-{merchant.id}-{i}",
            "externalOrderId": f"bt-{i}",
            "paidAt": "2026-06-01T10:00:00Z",
        }
        assert (await operations.execute(record, {"input": payment}))["recordPayment"][
            "__typename"
        ] == "RecordPaymentSuccess"
    result = (
        await operations.execute(
            'query($d: SplitRuleInput!) { backtestSplitRule(draft: $d, from: "2026-06-01T00:00:00Z", '
            'to: "2026-06-02T00:00:00Z") { payments lines { partyId role actual { amount } withDraft { amount } '
            "difference { amount } } } }",
            {"d": rule_input(merchant.id, rate_bps=1000)},
        )
    )["backtestSplitRule"]
    lines = {(line["partyId"], line["role"]): line for line in result["lines"]}
    mine = lines[(gid("Merchant", merchant.id), "MERCHANT")]
    assert result["payments"] >= 3
    assert (mine["actual"]["amount"], mine["withDraft"]["amount"], mine["difference"]["amount"]) == (
        "600.00",
        "570.00",
        "-30.00",
    )


async def test_a_rule_form_gets_every_field_at_fault_in_one_answer(client_for, make_merchant):
    operations = await client_for("platform_operations")
    merchant = await make_merchant()
    bad = rule_input(merchant.id, rate_bps=10_001) | {"priority": 5_000_000}
    result = (
        await operations.execute(
            "mutation($input: SplitRuleInput!) { createSplitRule(input: $input) { __typename "
            "... on ValidationError { field errors { code field } } } }",
            {"input": bad},
        )
    )["createSplitRule"]
    assert result["__typename"] == "ValidationError" and result["field"] == "priority"
    assert result["errors"] == [
        {"code": "INVALID_RULE", "field": "priority"},
        {"code": "RATE_ABOVE_100_PERCENT", "field": "legs[0].rateBps"},
    ]
