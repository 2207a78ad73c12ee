"""Read fields of the auth area."""

from __future__ import annotations

import strawberry

from domain.services import identity
from schema.auth.types import Viewer
from schema.context import Info
from schema.merchants.types import party_from_row
from schema.permissions import describe, requires


@strawberry.type
class AuthQuery:
    @strawberry.field(
        description=describe("The caller: user, role, permissions and party.", None), extensions=[requires()]
    )
    async def me(self, info: Info) -> Viewer:
        principal = info.context.principal
        user = await identity.current_user(principal)
        return Viewer(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            permissions=sorted(principal.permissions),
            mfa_passed=principal.mfa_passed,
            party=party_from_row(user.party),
        )
