"""GraphQL types of parties: the Party interface and Merchant, LogisticsPartner, Supplier, Platform."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from domain.errors import NotFound
from domain.parties import KycStatus, MerchantTier, PartyKind, RiskLevel, SettlementCycle, mask_account_number
from domain.services import parties as party_service
from schema.context import Info
from schema.ids import database_id
from schema.money import Money
from schema.permissions import describe, requires

PartyKindEnum = strawberry.enum(PartyKind, description="Kinds of party that take a share of payments.")
MerchantTierEnum = strawberry.enum(MerchantTier, description="Merchant tiers; split rules can match on them.")
KycStatusEnum = strawberry.enum(KycStatus, description="Where a merchant stands in identity verification.")
RiskLevelEnum = strawberry.enum(RiskLevel, description="Risk level assigned to a merchant.")
SettlementCycleEnum = strawberry.enum(SettlementCycle, description="How often a party is settled.")


@strawberry.type(description="When and how a party is paid.")
class SettlementProfile:
    currency: str = strawberry.field(description="Currency the party settles in (ISO 4217).")
    cycle: SettlementCycleEnum = strawberry.field(description="DAILY, WEEKLY or MONTHLY.")
    anchor_day: int = strawberry.field(
        description="Weekday for WEEKLY (1 = Monday .. 7), day of month for MONTHLY (1..31; 29-31 fall back to a "
        "shorter month's last day), 0 for DAILY."
    )
    delay_days: int = strawberry.field(description="T+N: funds released on day T settle N days later.")
    minimum_payout: Money = strawberry.field(description="No payout below this; the balance carries over.")
    hold_days: int = strawberry.field(description="Days funds stay in escrow when delivery is not confirmed.")
    reserve_bps: int = strawberry.field(
        description="Rolling reserve: basis points of each period's releases held back (0: no reserve)."
    )
    reserve_days: int = strawberry.field(description="Days each rolling reserve is held before it is paid out.")


@strawberry.type(description="A party's bank account. The number is stored encrypted and shown masked.")
class BankAccount:
    holder_name: str = strawberry.field(description="Name of the account holder.")
    bank_name: str = strawberry.field(description="Name of the bank.")
    account_number_masked: str = strawberry.field(description="The last four characters, e.g. ****6789.")
    changed_at: datetime | None = strawberry.field(description="When the account was last set or changed.")
    _party: strawberry.Private[Any]

    @strawberry.field(
        description=describe("The full account number (decrypted on request).", "pii:reveal"),
        extensions=[requires("pii:reveal")],
    )
    async def account_number(self, info: Info) -> str | None:
        return await party_service.reveal_account_number(info.context.principal, info.context.runtime, self._party)


@strawberry.interface(
    description="Anyone who takes a share of a payment: the platform, a merchant, a logistics partner or a supplier."
)
class Party(relay.Node):
    id: relay.NodeID[int]
    kind: PartyKindEnum = strawberry.field(description="What kind of party this is.")
    name: str = strawberry.field(description="Display name, unique among parties of the same kind.")
    contact_email: str | None = strawberry.field(description="Where statements and notices go.")
    is_active: bool = strawberry.field(description="Inactive parties take no new shares.")
    settlement_profile: SettlementProfile = strawberry.field(description="When and how the party is paid.")
    bank_account: BankAccount | None = strawberry.field(description="Where payouts go, if set.")
    created_at: datetime = strawberry.field(description="When the party was created.")
    updated_at: datetime = strawberry.field(description="When the party last changed.")

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        # Kind must match the type in the global id; anything out of scope resolves to null (not found).
        wanted = _TYPE_KIND.get(cls.__name__)
        rows = await info.context.loaders.party.load_many([int(node_id) for node_id in node_ids])
        return [
            party_from_row(row) if row is not None and (wanted is None or row.kind == wanted) else None for row in rows
        ]


@strawberry.type(
    description="A seller on the marketplace; receives what remains of each payment after the other parties' shares."
)
class Merchant(Party):
    tier: MerchantTierEnum = strawberry.field(description="Tier, used by split rules.")
    category: str | None = strawberry.field(description="Main product category.")
    kyc_status: KycStatusEnum = strawberry.field(description="Identity verification status.")
    risk_level: RiskLevelEnum = strawberry.field(description="Risk level.")


@strawberry.type(description="A logistics company; takes the shipping fee of the orders it carries.")
class LogisticsPartner(Party):
    pass


@strawberry.type(description="A supplier (S2B2C) that takes a share of the goods it supplies.")
class Supplier(Party):
    pass


@strawberry.type(description="The marketplace operator; takes the commission.")
class Platform(Party):
    pass


_TYPE_KIND = {
    "Merchant": PartyKind.MERCHANT,
    "LogisticsPartner": PartyKind.LOGISTICS,
    "Supplier": PartyKind.SUPPLIER,
    "Platform": PartyKind.PLATFORM,
}
_KIND_TYPE = {
    PartyKind.MERCHANT: Merchant,
    PartyKind.LOGISTICS: LogisticsPartner,
    PartyKind.SUPPLIER: Supplier,
    PartyKind.PLATFORM: Platform,
}


_ROLE_KIND = {
    "PLATFORM": PartyKind.PLATFORM,
    "LOGISTICS": PartyKind.LOGISTICS,
    "MERCHANT": PartyKind.MERCHANT,
    "SUPPLIER": PartyKind.SUPPLIER,
}


PARTY_TYPE_NAMES = frozenset(party_type.__name__ for party_type in _KIND_TYPE.values())


def party_database_id(global_id: relay.GlobalID, field: str) -> int:
    """The database id behind a global id of any party type; NOT_FOUND naming the field for any other type.
    (Whether the type is the party's own kind needs a lookup: see schema.node.party_id_from_global_id.)"""
    if global_id.type_name not in PARTY_TYPE_NAMES:
        raise NotFound("party", field=field)
    return database_id(global_id.node_id, field, f"{global_id.type_name} id")


def party_type_name(kind: PartyKind | str) -> str:
    """The global-id type of a party of `kind`: Merchant, LogisticsPartner, Supplier or Platform."""
    return _KIND_TYPE[PartyKind(kind)].__name__


async def party_global_id(info: Info, party_id: int, role: str | None = None) -> relay.GlobalID:
    """A party's global id, typed by its kind (so `node` resolves it). A share's role names the kind of every
    party but a PARTY leg's, which is looked up (one query per request for all of them)."""
    kind = _ROLE_KIND.get(str(role)) if role is not None else None
    if kind is None:
        kind = await info.context.loaders.party_kind.load(party_id)
    return relay.GlobalID(party_type_name(kind) if kind is not None else "Party", str(party_id))


def party_from_row(row: Any) -> Party:
    """Maps a party row from the services to its GraphQL type."""
    profile = row.settlement_profile()
    common: dict[str, Any] = dict(
        id=row.id,
        kind=row.kind,
        name=row.name,
        contact_email=row.contact_email,
        is_active=row.is_active,
        settlement_profile=SettlementProfile(
            currency=profile.currency,
            cycle=profile.cycle,
            anchor_day=profile.anchor_day,
            delay_days=profile.delay_days,
            minimum_payout=Money.of(profile.minimum_payout),
            hold_days=profile.hold_days,
            reserve_bps=profile.reserve_bps,
            reserve_days=profile.reserve_days,
        ),
        bank_account=BankAccount(
            holder_name=row.bank_account_holder,
            bank_name=row.bank_name,
            account_number_masked=mask_account_number(row.bank_account_last4),
            changed_at=row.bank_account_changed_at,
            _party=row,
        )
        if row.bank_account_ciphertext
        else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    if row.kind == PartyKind.MERCHANT:
        return Merchant(
            **common,
            tier=row.tier,
            category=row.category,
            kyc_status=row.kyc_status,
            risk_level=row.risk_level,
        )
    return _KIND_TYPE[row.kind](**common)
