"""The Relay `node(id)` field: any object by its global id, through the same scoping as every other read."""

from __future__ import annotations

import strawberry
from strawberry import relay

from schema.context import Info
from schema.merchants.types import LogisticsPartner, Merchant, Platform, Supplier
from schema.permissions import describe, requires

# Type name in a global id -> the type that resolves it. A type missing here is not reachable by node().
NODE_TYPES: dict[str, type[relay.Node]] = {
    "Merchant": Merchant,
    "LogisticsPartner": LogisticsPartner,
    "Supplier": Supplier,
    "Platform": Platform,
}


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description=describe(
            "Any object by its global id; null when it does not exist or is out of the caller's scope.", None
        ),
        extensions=[requires()],
    )
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        node_type = NODE_TYPES.get(id.type_name)
        if node_type is None:
            return None
        if not info.context.principal.has("parties:read"):
            return None
        return await node_type.resolve_node(node_id=id.node_id, info=info, required=False)
