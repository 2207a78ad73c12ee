"""Split rules: drafting, versioning, activation of a named version and archiving (both two-factor, optionally
with a second person), and the rule book in effect at a time. The default rule is an ordinary rule of the book,
created once by migration 0006."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.errors import InvalidInput, NotFound
from domain.models import Party, SplitRule, SplitRuleVersion
from domain.parties import PartyKind, normalize_name
from domain.rules import (
    DEFAULT_RULE_PRIORITY,
    RuleBook,
    RuleDraft,
    RuleVersion,
    conditions_from_dict,
    conditions_to_dict,
    legs_from_list,
    legs_to_list,
    validate_rule,
)
from domain.services import auth_events, platform_settings
from domain.services.authorization import require
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime

DRAFT, ACTIVE, ARCHIVED = "DRAFT", "ACTIVE", "ARCHIVED"


def version_from_row(row: SplitRuleVersion) -> RuleVersion:
    return RuleVersion(
        version_id=row.id,
        rule_id=row.rule_id,
        priority=row.priority,
        effective_from=row.effective_from,
        conditions=conditions_from_dict(json.loads(row.conditions)),
        legs=legs_from_list(json.loads(row.legs)),
    )


class RuleCatalogue:
    """Activated versions of active rules (the default rule among them), loaded once for a batch; per payment
    time, the versions in effect."""

    def __init__(self, versions: list[RuleVersion]) -> None:
        self._by_rule: dict[int, list[RuleVersion]] = {}
        for version in sorted(versions, key=lambda v: v.effective_from):
            self._by_rule.setdefault(version.rule_id, []).append(version)
        self._books: dict[tuple[int, ...], RuleBook] = {}

    def book_at(self, at: datetime) -> RuleBook:
        in_effect = []
        for versions in self._by_rule.values():
            current = None
            for version in versions:
                if version.effective_from <= at:
                    current = version
            if current is not None:
                in_effect.append(current)
        key = tuple(sorted(v.version_id for v in in_effect))
        book = self._books.get(key)
        if book is None:
            book = self._books[key] = RuleBook(in_effect)
        return book


async def load_catalogue() -> RuleCatalogue:
    """Every activated version of every active rule; a version counts from its effective time, whenever it was
    activated."""
    rows = await SplitRuleVersion.filter(rule__status=ACTIVE, activated_at__isnull=False)
    return RuleCatalogue([version_from_row(row) for row in rows])


@dataclass(frozen=True)
class RuleInput:
    name: str
    description: str | None
    draft: RuleDraft
    effective_from: datetime | None = None


async def _validate(rule: RuleInput, *, is_default: bool = False) -> None:
    draft = rule.draft
    if rule.effective_from is not None and rule.effective_from.tzinfo is None:
        raise InvalidInput("INVALID_INPUT", "effectiveFrom needs a time zone", field="effectiveFrom")
    validate_rule(draft, is_default=is_default)
    named = {leg.party_id for leg in draft.legs if leg.party_id is not None}
    if named:
        found = set(await Party.filter(id__in=list(named)).values_list("id", flat=True))
        if named - found:
            raise InvalidInput(
                "INVALID_RULE", f"legs name parties that do not exist: {sorted(named - found)}", field="legs"
            )
    merchants = draft.conditions.merchant_ids
    if merchants:
        found = set(await Party.filter(id__in=list(merchants), kind=PartyKind.MERCHANT).values_list("id", flat=True))
        if merchants - found:
            raise InvalidInput(
                "INVALID_RULE",
                f"conditions name merchants that do not exist: {sorted(merchants - found)}",
                field="conditions.merchantIds",
            )


async def create_rule(principal: Principal, runtime: Runtime, rule: RuleInput) -> SplitRule:
    require(principal, "rules:write")
    name = normalize_name(rule.name)
    await _validate(rule)
    now = runtime.now()
    async with in_transaction():
        row = await SplitRule.create(
            name=name, description=rule.description, status=DRAFT, created_by_id=principal.user_id
        )
        await _add_version(row, 1, rule, principal, now)
        await auth_events.record(
            "rule_created", actor=principal, party_id=principal.party_id, detail=f"rule {row.id} {name}"
        )
    return row


async def _add_version(
    rule: SplitRule, number: int, rule_input: RuleInput, principal: Principal, now: datetime
) -> SplitRuleVersion:
    return await SplitRuleVersion.create(
        rule_id=rule.id,
        version=number,
        priority=rule_input.draft.priority,
        conditions=json.dumps(conditions_to_dict(rule_input.draft.conditions)),
        legs=json.dumps(legs_to_list(rule_input.draft.legs)),
        effective_from=rule_input.effective_from or now,
        created_by_id=principal.user_id,
    )


async def update_rule(principal: Principal, runtime: Runtime, rule_id: int, rule: RuleInput) -> SplitRule:
    """An edit is a new version; nothing already recorded changes. A version of the default rule always ranks
    lowest, whatever priority it is given."""
    require(principal, "rules:write")
    async with in_transaction():
        row = await writable(principal, SplitRule).select_for_update().get_or_none(id=rule_id)
        if row is None:
            raise NotFound("split rule")
        if row.status == ARCHIVED:
            raise InvalidInput("RULE_ARCHIVED", "an archived rule cannot be edited", field="id")
        if row.is_default:
            rule = RuleInput(
                rule.name,
                rule.description,
                RuleDraft(DEFAULT_RULE_PRIORITY, rule.draft.conditions, rule.draft.legs),
                rule.effective_from,
            )
        await _validate(rule, is_default=row.is_default)
        latest = await SplitRuleVersion.filter(rule_id=row.id).order_by("-version").first()
        await _add_version(row, (latest.version if latest else 0) + 1, rule, principal, runtime.now())
        row.name = normalize_name(rule.name)
        row.description = rule.description  # type: ignore[assignment]  # a nullable TextField, typed str by tortoise
        await row.save(update_fields=["name", "description", "updated_at"])
    return row


async def activate_rule(principal: Principal, runtime: Runtime, rule_id: int, version_id: int) -> SplitRule:
    """Activates the version the approver reviewed, named by its id (never "whatever is newest now", so no one
    can slip a version in after review). Needs rules:approve in a two-factor session, and a second person when
    the platform setting asks for it. Activating an active version again changes nothing."""
    require(principal, "rules:approve")
    settings = await platform_settings.current()
    async with in_transaction():
        row = await writable(principal, SplitRule).select_for_update().get_or_none(id=rule_id)
        if row is None:
            raise NotFound("split rule")
        if row.status == ARCHIVED:
            raise InvalidInput("RULE_ARCHIVED", "an archived rule cannot be activated", field="id")
        version = await SplitRuleVersion.get_or_none(id=version_id, rule_id=row.id)
        if version is None:
            raise NotFound("version of this split rule", field="versionId")
        if settings.rules_need_second_approver and version.created_by_id == principal.user_id:
            raise InvalidInput(
                "SECOND_APPROVER_REQUIRED", "another person must activate a rule version you wrote", field="versionId"
            )
        if version.activated_at is None:
            version.activated_at, version.activated_by_id = runtime.now(), principal.user_id
            await version.save(update_fields=["activated_at", "activated_by_id"])
        row.status = ACTIVE
        await row.save(update_fields=["status", "updated_at"])
        await auth_events.record(
            "rule_activated",
            actor=principal,
            party_id=principal.party_id,
            detail=f"rule {row.id} version {version.version}",
        )
    return row


async def archive_rule(principal: Principal, runtime: Runtime, rule_id: int) -> SplitRule:
    """Archiving changes every later split, so it is guarded like activation: rules:approve in a two-factor
    session; when the platform asks for a second approver, the first call records the request and a second
    person's call archives."""
    require(principal, "rules:approve")
    settings = await platform_settings.current()
    async with in_transaction():
        row = await writable(principal, SplitRule).select_for_update().get_or_none(id=rule_id)
        if row is None:
            raise NotFound("split rule")
        if row.is_default:
            raise InvalidInput("DEFAULT_RULE", "the default rule cannot be archived; edit it instead", field="id")
        if row.status == ARCHIVED:
            return row
        if settings.rules_need_second_approver:
            if row.archive_requested_by_id is None:
                row.archive_requested_by_id = principal.user_id
                await row.save(update_fields=["archive_requested_by_id", "updated_at"])
                await auth_events.record(
                    "rule_archive_requested", actor=principal, party_id=principal.party_id, detail=f"rule {row.id}"
                )
                return row
            if row.archive_requested_by_id == principal.user_id:
                raise InvalidInput(
                    "SECOND_APPROVER_REQUIRED", "another person must confirm the archiving you asked for", field="id"
                )
        row.status = ARCHIVED
        await row.save(update_fields=["status", "updated_at"])
        await auth_events.record("rule_archived", actor=principal, party_id=principal.party_id, detail=f"rule {row.id}")
    return row


async def get_rule(principal: Principal, rule_id: int) -> SplitRule:
    require(principal, "rules:read")
    row = await readable(principal, SplitRule).get_or_none(id=rule_id)
    if row is None:
        raise NotFound("split rule")
    return row


async def list_rules(
    principal: Principal,
    runtime: Runtime,
    page: PageRequest,
    status: str | None = None,
) -> Page[SplitRule]:
    require(principal, "rules:read")
    query = readable(principal, SplitRule)
    if status:
        query = query.filter(status=str(status))
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def versions_by_ids(principal: Principal, version_ids: list[int]) -> dict[int, SplitRuleVersion]:
    """For node lookups: the versions among `version_ids` in the caller's scope."""
    require(principal, "rules:read")
    return {row.id: row for row in await readable(principal, SplitRuleVersion).filter(id__in=version_ids)}


async def versions_of(principal: Principal, rule_ids: list[int]) -> dict[int, list[SplitRuleVersion]]:
    require(principal, "rules:read")
    rows = await readable(principal, SplitRuleVersion).filter(rule_id__in=rule_ids).order_by("rule_id", "version")
    grouped: dict[int, list[SplitRuleVersion]] = {rule_id: [] for rule_id in rule_ids}
    for row in rows:
        grouped[row.rule_id].append(row)
    return grouped
