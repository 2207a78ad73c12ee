"""Concurrent writers on PostgreSQL: the database, not luck, decides races."""

from __future__ import annotations

import asyncio

import pytest

from domain.errors import AlreadyExists
from domain.models import Party
from domain.parties import KycStatus, MerchantTier
from domain.services import identity, parties
from domain.services.parties import MerchantChanges, MerchantDraft
from tests.conftest import signed_in, unique

pytestmark = pytest.mark.postgres_only


async def test_twenty_concurrent_creates_of_one_name_make_one_merchant(operator, runtime):
    name = unique("Race")
    outcomes = await asyncio.gather(
        *(parties.create_merchant(operator, runtime, MerchantDraft(name=name)) for _ in range(20)),
        return_exceptions=True,
    )
    created = [o for o in outcomes if isinstance(o, Party)]
    refused = [o for o in outcomes if isinstance(o, AlreadyExists)]
    assert len(created) == 1 and len(refused) == 19, outcomes
    assert await Party.filter(name=name).count() == 1


async def test_concurrent_updates_of_one_merchant_are_serialised(operator, runtime, make_merchant):
    merchant = await make_merchant(kyc_status=KycStatus.PENDING)
    tiers = [MerchantTier.SILVER, MerchantTier.GOLD, MerchantTier.PLATINUM] * 5
    await asyncio.gather(
        *(parties.update_merchant(operator, runtime, merchant.id, MerchantChanges(tier=tier)) for tier in tiers)
    )
    stored = await Party.get(id=merchant.id)
    assert stored.tier in set(tiers) and stored.kyc_status == KycStatus.PENDING


async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(runtime, make_user):
    issued = await signed_in(runtime, await make_user("merchant_staff"))
    outcomes = await asyncio.gather(
        *(identity.refresh(runtime, issued.refresh_token) for _ in range(10)), return_exceptions=True
    )
    succeeded = [o for o in outcomes if isinstance(o, identity.IssuedTokens)]
    assert len(succeeded) == 1, outcomes
