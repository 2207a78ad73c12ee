"""Split rules and their immutable versions."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class SplitRule(Model):
    """A named rule. What it does lives in its versions: editing adds a version, never changes one."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    status = fields.CharField(max_length=16, default="DRAFT", db_index=True)  # DRAFT, ACTIVE, ARCHIVED
    # The default rule: created once by a migration, at most one (a unique partial index), never archived.
    is_default = fields.BooleanField(default=False)
    created_by_id = fields.BigIntField(null=True)
    # Maker-checker for archiving: who asked, when a second person must confirm (platform setting).
    archive_requested_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "split_rules"


class SplitRuleVersion(Model):
    """One immutable version: priority, conditions and legs (as JSON), and when it takes effect."""

    id = fields.BigIntField(primary_key=True)
    rule: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "splitledger.SplitRule", related_name="versions", on_delete=fields.RESTRICT
    )
    rule_id: int
    version = fields.IntField()
    priority = fields.IntField()
    conditions = fields.TextField()
    legs = fields.TextField()
    effective_from = fields.DatetimeField()
    created_by_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    activated_at = fields.DatetimeField(null=True)
    activated_by_id = fields.BigIntField(null=True)

    class Meta:
        table = "split_rule_versions"
        unique_together = (("rule", "version"),)
