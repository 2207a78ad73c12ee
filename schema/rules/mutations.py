"""Creating, versioning, activating and archiving split rules."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from domain.errors import DomainError
from domain.services import rules as rule_service
from schema.context import Info
from schema.errors import NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.permissions import describe, requires
from schema.rules.inputs import SplitRuleInput, checked_draft
from schema.rules.types import SplitRule, rule_from_row


@strawberry.type(description="The rule as it is now.")
class SplitRuleSuccess:
    rule: SplitRule = strawberry.field(description="The rule.")


SplitRuleResult = Annotated[
    SplitRuleSuccess | ValidationError | NotFoundError,
    strawberry.union("SplitRuleResult", description="The rule, or why the change was refused (nothing written)."),
]


@strawberry.input(description="A new version of a rule.")
class UpdateSplitRuleInput(SplitRuleInput):
    id: relay.GlobalID = strawberry.field(description="The rule.")


@strawberry.input(description="A rule to act on.")
class SplitRuleIdInput:
    id: relay.GlobalID = strawberry.field(description="The rule.")


@strawberry.input(description="The rule version the approver reviewed, to activate.")
class ActivateSplitRuleInput:
    id: relay.GlobalID = strawberry.field(description="The rule.")
    version_id: relay.GlobalID = strawberry.field(
        description="The version that was reviewed (its `SplitRuleVersion.id`). Only that version is "
        "activated, even when a newer one was added since."
    )


def _version_id(value: relay.GlobalID) -> int:
    return required_id(value, "SplitRuleVersion", "version of this split rule", "versionId")


def _rule_id(global_id: relay.GlobalID) -> int:
    return required_id(global_id, "SplitRule", "split rule")


async def _rule_input(data: SplitRuleInput, info: Info) -> rule_service.RuleInput:
    return rule_service.RuleInput(
        name=data.name,
        description=data.description,
        draft=await checked_draft(data, info),
        effective_from=data.effective_from,
    )


@strawberry.type
class RuleMutation:
    @strawberry.mutation(
        description=describe("Drafts a new rule (version 1, not yet active).", "rules:write"),
        extensions=[requires("rules:write")],
    )
    async def create_split_rule(self, info: Info, input: SplitRuleInput) -> SplitRuleResult:
        try:
            rule = await _rule_input(input, info)
            row = await rule_service.create_rule(info.context.principal, info.context.runtime, rule)
        except DomainError as exc:
            return user_error(exc)
        return SplitRuleSuccess(rule=rule_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Adds a new version to a rule; earlier versions and the allocations they made never change.", "rules:write"
        ),
        extensions=[requires("rules:write")],
    )
    async def update_split_rule(self, info: Info, input: UpdateSplitRuleInput) -> SplitRuleResult:
        try:
            rule = await _rule_input(input, info)
            row = await rule_service.update_rule(info.context.principal, info.context.runtime, _rule_id(input.id), rule)
        except DomainError as exc:
            return user_error(exc)
        return SplitRuleSuccess(rule=rule_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Activates the version of a rule that the approver reviewed, named by its id; it applies to payments "
            "paid from its effectiveFrom on. Another person than its author must do it when the platform setting "
            "rulesNeedSecondApprover is on.",
            "rules:approve",
        ),
        extensions=[requires("rules:approve")],
    )
    async def activate_split_rule(self, info: Info, input: ActivateSplitRuleInput) -> SplitRuleResult:
        try:
            row = await rule_service.activate_rule(
                info.context.principal, info.context.runtime, _rule_id(input.id), _version_id(input.version_id)
            )
        except DomainError as exc:
            return user_error(exc)
        return SplitRuleSuccess(rule=rule_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Archives a rule: it stops matching new payments. It changes every later split, so it is guarded like "
            "activation: a two-factor session, and when the platform setting rulesNeedSecondApprover is on, the "
            "first call records the request (archiveRequested) and a second person's call archives. The default "
            "rule cannot be archived.",
            "rules:approve",
        ),
        extensions=[requires("rules:approve")],
    )
    async def archive_split_rule(self, info: Info, input: SplitRuleIdInput) -> SplitRuleResult:
        try:
            row = await rule_service.archive_rule(info.context.principal, info.context.runtime, _rule_id(input.id))
        except DomainError as exc:
            return user_error(exc)
        return SplitRuleSuccess(rule=rule_from_row(row))
