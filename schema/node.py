"""The Relay `node(id)` field: any object by its global id, through the same scoping as every other read."""

from __future__ import annotations

import strawberry
from strawberry import relay

from domain.errors import NotFound
from schema.auth.types import ApiKey, User
from schema.context import Info
from schema.disputes.types import Dispute
from schema.ids import is_database_id
from schema.ledger.types import JournalEntry
from schema.merchants.types import LogisticsPartner, Merchant, Platform, Supplier, party_database_id, party_type_name
from schema.payments.types import Payment
from schema.payouts.types import Payout
from schema.permissions import describe, requires
from schema.refunds.types import Refund
from schema.rules.types import SplitRule, SplitRuleVersion
from schema.settlements.types import Settlement, SettlementRun

# Type name in a global id -> the type that resolves it and the permission needed to read it. A type missing
# here is not reachable by node().
NODE_TYPES: dict[str, tuple[type[relay.Node], str]] = {
    "Merchant": (Merchant, "parties:read"),
    "LogisticsPartner": (LogisticsPartner, "parties:read"),
    "Supplier": (Supplier, "parties:read"),
    "Platform": (Platform, "parties:read"),
    "User": (User, "users:read"),
    "ApiKey": (ApiKey, "apikeys:read"),
    "Payment": (Payment, "payments:read"),
    "SplitRule": (SplitRule, "rules:read"),
    "SplitRuleVersion": (SplitRuleVersion, "rules:read"),
    "JournalEntry": (JournalEntry, "ledger:read"),
    "Settlement": (Settlement, "settlements:read"),
    "SettlementRun": (SettlementRun, "settlements:run"),
    "Payout": (Payout, "payouts:read"),
    "Refund": (Refund, "refunds:read"),
    "Dispute": (Dispute, "refunds:read"),
}


async def party_id_from_global_id(info: Info, global_id: relay.GlobalID, field: str = "partyId") -> int:
    """The id of a party named by a global id whose type is the party's kind: `Supplier:2` names no party when
    party 2 is a merchant, so it is NOT_FOUND, like a missing party (one type's id is never taken as another's)."""
    party_id = party_database_id(global_id, field)
    kind = await info.context.loaders.party_kind.load(party_id)
    if kind is None or party_type_name(kind) != global_id.type_name:
        raise NotFound("party", field=field)
    return party_id


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description=describe(
            "Any object by its global id; null when it does not exist or is out of the caller's scope.", None
        ),
        extensions=[requires()],
    )
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        entry = NODE_TYPES.get(id.type_name)
        if entry is None or not is_database_id(id.node_id):
            return None
        node_type, permission = entry
        if not info.context.principal.has(permission):
            return None
        return await node_type.resolve_node(node_id=id.node_id, info=info, required=False)
