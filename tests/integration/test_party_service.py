"""Party services on a real database: creating, changing, uniqueness, scoping, and nothing half written."""

from __future__ import annotations

import pytest

from auth.principal import Principal
from domain.errors import AlreadyExists, ErrorCode, Forbidden, InvalidInput, NotFound
from domain.models import Party
from domain.parties import KycStatus, MerchantTier, PartyKind, SettlementCycle
from domain.services import parties
from domain.services.pagination import PageRequest
from domain.services.parties import (
    BankAccountDraft,
    MerchantChanges,
    MerchantDraft,
    MerchantFilter,
    SettlementProfileDraft,
)
from tests.conftest import unique


async def test_a_merchant_is_created_with_its_settlement_terms(operator, runtime):
    merchant = await parties.create_merchant(
        operator,
        runtime,
        MerchantDraft(
            name=unique("Tea"),
            tier=MerchantTier.GOLD,
            category="tea",
            settlement_profile=SettlementProfileDraft("jpy", SettlementCycle.MONTHLY, 15, 3, "5000", 10),
        ),
    )
    stored = await Party.get(id=merchant.id)
    assert stored.kind == PartyKind.MERCHANT and stored.tier == MerchantTier.GOLD
    profile = stored.settlement_profile()
    assert (profile.currency, profile.minimum_payout.amount_minor, profile.anchor_day) == ("JPY", 5000, 15)


async def test_names_are_unique_per_kind_ignoring_case_and_spacing(operator, runtime, make_merchant):
    merchant = await make_merchant()
    with pytest.raises(AlreadyExists) as caught:
        await make_merchant(name="  " + merchant.name.upper().replace(" ", "   ") + " ")
    assert caught.value.code == ErrorCode.DUPLICATE_NAME and caught.value.field == "name"


async def test_bad_input_writes_nothing(operator, runtime):
    name = unique("Never")
    with pytest.raises(InvalidInput) as caught:
        await parties.create_merchant(
            operator,
            runtime,
            MerchantDraft(
                name=name,
                settlement_profile=SettlementProfileDraft("CNY", SettlementCycle.DAILY, 0, 1, "1.005", 7),
            ),
        )
    assert caught.value.code == ErrorCode.TOO_MANY_DECIMALS
    assert caught.value.field == "settlementProfile.minimumPayout"
    assert not await Party.filter(name=name).exists()


async def test_a_failed_update_leaves_the_merchant_as_it_was(operator, runtime, make_merchant):
    merchant = await make_merchant(tier=MerchantTier.SILVER)
    with pytest.raises(InvalidInput):
        await parties.update_merchant(
            operator,
            runtime,
            merchant.id,
            MerchantChanges(tier=MerchantTier.GOLD, bank_account=BankAccountDraft("Holder", "Bank", "12")),
        )
    assert (await Party.get(id=merchant.id)).tier == MerchantTier.SILVER


async def test_an_update_changes_only_what_it_names(operator, runtime, make_merchant):
    merchant = await make_merchant(category="tea", tier=MerchantTier.SILVER)
    updated = await parties.update_merchant(
        operator, runtime, merchant.id, MerchantChanges(kyc_status=KycStatus.SUSPENDED)
    )
    assert (updated.kyc_status, updated.tier, updated.category) == (
        KycStatus.SUSPENDED,
        MerchantTier.SILVER,
        "tea",
    )


async def test_renaming_onto_another_merchants_name_is_refused(operator, runtime, make_merchant):
    first, second = await make_merchant(), await make_merchant()
    with pytest.raises(AlreadyExists):
        await parties.update_merchant(operator, runtime, second.id, MerchantChanges(name=first.name))


async def test_a_merchant_principal_reads_only_its_own_party(runtime, world, make_merchant):
    other = await make_merchant()
    merchant_admin = Principal(
        user_id=1,
        party_id=world.merchant_a_id,
        party_kind=PartyKind.MERCHANT,
        role="merchant_admin",
        permissions=frozenset({"parties:read"}),
    )
    assert (await parties.get_party(merchant_admin, world.merchant_a_id)).id == world.merchant_a_id
    with pytest.raises(NotFound):
        await parties.get_party(merchant_admin, other.id)
    page = await parties.list_merchants(merchant_admin, runtime, PageRequest(first=100))
    assert [row.id for row in page.items] == [world.merchant_a_id]


async def test_a_merchant_principal_cannot_write_even_with_the_permission_string(runtime, world, make_merchant):
    other = await make_merchant(tier=MerchantTier.STANDARD)
    impostor = Principal(
        user_id=1,
        party_id=world.merchant_a_id,
        party_kind=PartyKind.MERCHANT,
        role="merchant_admin",
        permissions=frozenset({"merchants:write"}),
    )
    with pytest.raises(NotFound):
        await parties.update_merchant(impostor, runtime, other.id, MerchantChanges(tier=MerchantTier.GOLD))
    assert (await Party.get(id=other.id)).tier == MerchantTier.STANDARD


async def test_services_check_permissions_too(runtime, world):
    staff = Principal(
        user_id=1,
        party_id=world.merchant_a_id,
        party_kind=PartyKind.MERCHANT,
        role="merchant_staff",
        permissions=frozenset({"parties:read"}),
    )
    with pytest.raises(Forbidden):
        await parties.create_merchant(staff, runtime, MerchantDraft(name=unique("Nope")))


async def test_merchant_list_filters_and_pages_newest_first(operator, runtime, make_merchant):
    marker = unique("Pager")
    created = [await make_merchant(name=f"{marker} {i}", tier=MerchantTier.PLATINUM) for i in range(5)]
    filters = MerchantFilter(tier=MerchantTier.PLATINUM, name_contains=marker.upper())
    first = await parties.list_merchants(operator, runtime, PageRequest(first=2), filters)
    assert [row.id for row in first.items] == [created[4].id, created[3].id] and first.has_next_page
    rest = await parties.list_merchants(operator, runtime, PageRequest(first=10, after_id=first.items[-1].id), filters)
    assert [row.id for row in rest.items] == [created[2].id, created[1].id, created[0].id]
    assert not rest.has_next_page and rest.has_previous_page


async def test_page_size_is_capped(operator, runtime):
    with pytest.raises(InvalidInput) as caught:
        await parties.list_merchants(operator, runtime, PageRequest(first=101))
    assert caught.value.code == ErrorCode.INVALID_PAGE_SIZE


async def test_the_platform_party_is_created_once(world):
    again = await parties.ensure_platform_party()
    assert again.id == world.platform_id
    assert await Party.filter(kind=PartyKind.PLATFORM).count() == 1
