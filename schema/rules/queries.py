"""Read fields of split rules: the rules, and a backtest of a draft over past payments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from domain.money import Money as DomainMoney
from domain.services import rule_simulation
from domain.services import rules as rule_service
from domain.splitting import ShareRole
from schema.context import Info
from schema.ids import global_id_to_int
from schema.merchants.types import party_global_id
from schema.money import Money
from schema.pagination import Connection, page_request, to_connection
from schema.payments.types import ShareRoleEnum
from schema.permissions import describe, requires
from schema.rules.inputs import SplitRuleInput, checked_draft
from schema.rules.types import RuleStatusEnum, SplitRule, rule_from_row


@strawberry.type(description="One party's total over the backtested payments: what it got, and what it would have.")
class BacktestLine:
    role: ShareRoleEnum = strawberry.field(description="Why the party takes these shares.")
    actual: Money = strawberry.field(description="What the recorded allocations gave it.")
    with_draft: Money = strawberry.field(description="What it would have got with the draft rule in effect.")
    difference: Money = strawberry.field(description="withDraft - actual.")
    party_row_id: strawberry.Private[int]

    @strawberry.field(description="The party: a global id of its kind's type.")
    async def party_id(self, info: Info) -> relay.GlobalID:
        return await party_global_id(info, self.party_row_id, self.role)


@strawberry.type(description="The result of replaying a draft rule over past payments. Nothing was written.")
class Backtest:
    payments: int = strawberry.field(description="Payments replayed.")
    truncated: bool = strawberry.field(
        description="True when the period held more than 10,000 payments; only the first 10,000 were replayed."
    )
    lines: list[BacktestLine] = strawberry.field(description="Per party and currency.")


@strawberry.type
class RuleQuery:
    @strawberry.field(
        description=describe("Split rules, newest first. `first` (1..100) after `after`.", "rules:read"),
        extensions=[requires("rules:read")],
    )
    async def split_rules(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: Annotated[RuleStatusEnum | None, strawberry.argument(description="Only rules in this status.")] = None,
    ) -> Connection[SplitRule]:
        page = await rule_service.list_rules(
            info.context.principal, info.context.runtime, page_request(first, after), status
        )
        return to_connection(page, rule_from_row)

    @strawberry.field(
        description=describe("A split rule with its versions; null when missing.", "rules:read"),
        extensions=[requires("rules:read")],
    )
    async def split_rule(self, info: Info, id: relay.GlobalID) -> SplitRule | None:
        rule_id = global_id_to_int(id, "SplitRule")
        if rule_id is None:
            return None
        return await SplitRule.resolve_node(node_id=str(rule_id), info=info, required=False)

    @strawberry.field(
        description=describe(
            "Replays a draft rule over the payments paid in [from, to): what each party "
            "got against what it would have got. Writes nothing.",
            "rules:read",
        ),
        extensions=[requires("rules:read")],
    )
    async def backtest_split_rule(
        self,
        info: Info,
        draft: SplitRuleInput,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Paid at or after.")],
        to: Annotated[datetime, strawberry.argument(description="Paid before.")],
    ) -> Backtest:
        result = await rule_simulation.backtest_rule(
            info.context.principal, info.context.runtime, await checked_draft(draft, info), from_, to
        )
        return Backtest(
            payments=result.payments,
            truncated=result.truncated,
            lines=[
                BacktestLine(
                    party_row_id=row.party_id,
                    role=ShareRole(row.role),
                    actual=Money.of(DomainMoney(row.actual_minor, row.currency)),
                    with_draft=Money.of(DomainMoney(row.with_draft_minor, row.currency)),
                    difference=Money.of(DomainMoney(row.with_draft_minor - row.actual_minor, row.currency)),
                )
                for row in result.rows
            ],
        )
