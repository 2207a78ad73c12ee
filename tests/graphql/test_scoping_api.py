"""Who sees what, through every read field: each role sees its own rows and gets "not found" for others'."""

from __future__ import annotations

import pytest

from tests.conftest import gid

MERCHANT = "query($id: ID!) { merchant(id: $id) { id name } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Party { name kind } } }"
MERCHANTS = "{ merchants(first: 100) { edges { node { id } } } }"
LOGISTICS = "{ logisticsPartners(first: 100) { edges { node { id } } } }"
SUPPLIERS = "{ suppliers(first: 100) { edges { node { id } } } }"


def ids(connection) -> set[str]:
    return {edge["node"]["id"] for edge in connection["edges"]}


async def test_merchant_sees_its_own_merchant(merchant_client, world):
    own = gid("Merchant", world.merchant_a_id)
    assert (await merchant_client.execute(MERCHANT, {"id": own}))["merchant"]["id"] == own
    assert (await merchant_client.execute(NODE, {"id": own}))["node"]["kind"] == "MERCHANT"
    assert ids((await merchant_client.execute(MERCHANTS))["merchants"]) == {own}


async def test_merchant_does_not_see_another_merchant(merchant_client, world):
    other = gid("Merchant", world.merchant_b_id)
    assert (await merchant_client.execute(MERCHANT, {"id": other}))["merchant"] is None
    assert (await merchant_client.execute(NODE, {"id": other}))["node"] is None
    assert other not in ids((await merchant_client.execute(MERCHANTS))["merchants"])


async def test_other_merchant_does_not_see_merchant_a(other_merchant_client, world):
    assert (await other_merchant_client.execute(MERCHANT, {"id": gid("Merchant", world.merchant_a_id)}))[
        "merchant"
    ] is None
    assert ids((await other_merchant_client.execute(MERCHANTS))["merchants"]) == {gid("Merchant", world.merchant_b_id)}


async def test_merchant_sees_no_logistics_partners_or_suppliers(merchant_client, world):
    assert ids((await merchant_client.execute(LOGISTICS))["logisticsPartners"]) == set()
    assert ids((await merchant_client.execute(SUPPLIERS))["suppliers"]) == set()
    assert (await merchant_client.execute(NODE, {"id": gid("LogisticsPartner", world.logistics_a_id)}))["node"] is None


async def test_logistics_partner_sees_only_itself(logistics_client, world):
    own = gid("LogisticsPartner", world.logistics_a_id)
    assert ids((await logistics_client.execute(LOGISTICS))["logisticsPartners"]) == {own}
    assert (await logistics_client.execute(NODE, {"id": own}))["node"]["id"] == own


async def test_logistics_partner_does_not_see_other_partners_or_merchants(logistics_client, world):
    assert (await logistics_client.execute(NODE, {"id": gid("LogisticsPartner", world.logistics_b_id)}))["node"] is None
    assert ids((await logistics_client.execute(MERCHANTS))["merchants"]) == set()
    assert (await logistics_client.execute(MERCHANT, {"id": gid("Merchant", world.merchant_a_id)}))["merchant"] is None
    assert ids((await logistics_client.execute(SUPPLIERS))["suppliers"]) == set()


async def test_platform_staff_see_every_party(finance_client, world):
    merchants = ids((await finance_client.execute(MERCHANTS))["merchants"])
    assert {gid("Merchant", world.merchant_a_id), gid("Merchant", world.merchant_b_id)} <= merchants
    partners = ids((await finance_client.execute(LOGISTICS))["logisticsPartners"])
    assert {
        gid("LogisticsPartner", world.logistics_a_id),
        gid("LogisticsPartner", world.logistics_b_id),
    } <= partners
    assert gid("Supplier", world.supplier_id) in ids((await finance_client.execute(SUPPLIERS))["suppliers"])
    assert (await finance_client.execute(NODE, {"id": gid("Platform", world.platform_id)}))["node"][
        "kind"
    ] == "PLATFORM"


async def test_a_global_id_of_the_wrong_type_finds_nothing(finance_client, world):
    as_merchant = gid("Merchant", world.logistics_a_id)
    assert (await finance_client.execute(MERCHANT, {"id": as_merchant}))["merchant"] is None
    assert (await finance_client.execute(NODE, {"id": as_merchant}))["node"] is None


@pytest.mark.parametrize(
    "query",
    [
        MERCHANTS,
        LOGISTICS,
        SUPPLIERS,
        "{ me { email } }",
        'query { merchant(id: "TWVyY2hhbnQ6MQ==") { name } }',
        'query { node(id: "TWVyY2hhbnQ6MQ==") { id } }',
    ],
)
async def test_anonymous_callers_get_nothing_but_login(anonymous_client, query):
    body = await anonymous_client.execute(query, expect_errors=True)
    assert body["data"] is None or all(value is None for value in body["data"].values())
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_anonymous_callers_cannot_change_anything(anonymous_client):
    body = await anonymous_client.execute(
        'mutation { createMerchant(input: {name: "x"}) { __typename } }', expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await anonymous_client.execute("mutation { logout { __typename } }", expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
