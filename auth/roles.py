"""The one table of roles and the permissions each grants; code checks permissions, never role names."""

from __future__ import annotations

from domain.parties import PartyKind

# Every permission string in the system, with what it allows (shown in the README and the API).
PERMISSIONS: dict[str, str] = {
    "parties:read": "read merchants, logistics partners and suppliers in scope",
    "merchants:write": "create merchants and change their profile, tier, KYC status and risk level",
    "partners:write": "create logistics partners and suppliers",
    "pii:reveal": "see full bank account numbers",
    "users:read": "list users in scope",
    "users:write": "create users, change roles, disable users",
    "rules:read": "read split rules and preview splits",
    "rules:write": "draft and edit split rules",
    "rules:approve": "activate and archive split rules",
    "payments:read": "read payments and allocations in scope",
    "payments:write": "record payments",
    "ledger:read": "read journal entries and balances in scope",
    "settlements:read": "read settlement statements in scope",
    "settlements:run": "release held funds and run settlements",
    "deliveries:confirm": "confirm the delivery of a payment (a logistics partner: of the payments it carried)",
    "payouts:read": "read payouts in scope",
    "payouts:approve": "approve payouts",
    "refunds:read": "read refunds in scope",
    "refunds:create": "refund payments",
    "risk:read": "read risk alerts",
    "risk:write": "resolve risk alerts and change risk rules",
    "reports:read": "read analytics and exports",
    "audit:read": "read and verify the audit trail",
    "apikeys:read": "list API keys in scope",
    "apikeys:write": "create and revoke API keys",
    "platform:configure": "change platform-wide settings such as the two-factor policy",
    "platform:read": "read platform-wide settings",
}

# Sensitive permissions: they take effect only in a session that passed two-factor login, and can never be
# given to an API key.
MFA_REQUIRED_PERMISSIONS: frozenset[str] = frozenset(
    {"payouts:approve", "rules:approve", "users:write", "apikeys:write", "pii:reveal", "platform:configure"}
)

_ALL_READS = frozenset(p for p in PERMISSIONS if p.endswith(":read"))

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "platform_admin": frozenset(PERMISSIONS),
    "platform_finance": frozenset(
        {
            "parties:read",
            "pii:reveal",
            "payments:read",
            "ledger:read",
            "settlements:read",
            "settlements:run",
            "payouts:read",
            "payouts:approve",
            "refunds:read",
            "refunds:create",
            "reports:read",
            "rules:read",
        }
    ),
    "platform_operations": frozenset(
        {
            "parties:read",
            "deliveries:confirm",
            "settlements:read",
            "merchants:write",
            "partners:write",
            "payments:read",
            "payments:write",
            "refunds:read",
            "refunds:create",
            "rules:read",
            "rules:write",
            "ledger:read",
        }
    ),
    "platform_risk": frozenset(
        {
            "parties:read",
            "payments:read",
            "refunds:read",
            "ledger:read",
            "risk:read",
            "risk:write",
            "reports:read",
        }
    ),
    "platform_auditor": _ALL_READS | {"audit:read"},
    "merchant_admin": frozenset(
        {
            "parties:read",
            "pii:reveal",
            "users:read",
            "users:write",
            "rules:read",
            "payments:read",
            "ledger:read",
            "settlements:read",
            "payouts:read",
            "refunds:read",
            "refunds:create",
            "reports:read",
            "apikeys:read",
            "apikeys:write",
        }
    ),
    "merchant_finance": frozenset(
        {
            "parties:read",
            "payments:read",
            "ledger:read",
            "settlements:read",
            "payouts:read",
            "refunds:read",
            "reports:read",
        }
    ),
    "merchant_staff": frozenset({"parties:read", "payments:read", "refunds:read"}),
    "logistics_partner": frozenset(
        {
            "parties:read",
            "payments:read",
            "ledger:read",
            "settlements:read",
            "payouts:read",
            "deliveries:confirm",
            "refunds:read",
        }
    ),
    "supplier": frozenset(
        {"parties:read", "payments:read", "ledger:read", "settlements:read", "payouts:read", "refunds:read"}
    ),
}

# Which kind of party each role belongs to: a merchant role can never be given to a platform user.
ROLE_PARTY_KIND: dict[str, PartyKind] = {
    "platform_admin": PartyKind.PLATFORM,
    "platform_finance": PartyKind.PLATFORM,
    "platform_operations": PartyKind.PLATFORM,
    "platform_risk": PartyKind.PLATFORM,
    "platform_auditor": PartyKind.PLATFORM,
    "merchant_admin": PartyKind.MERCHANT,
    "merchant_finance": PartyKind.MERCHANT,
    "merchant_staff": PartyKind.MERCHANT,
    "logistics_partner": PartyKind.LOGISTICS,
    "supplier": PartyKind.SUPPLIER,
}

assert set(ROLE_PERMISSIONS) == set(ROLE_PARTY_KIND)
assert all(perms <= set(PERMISSIONS) for perms in ROLE_PERMISSIONS.values())
assert set(PERMISSIONS) >= MFA_REQUIRED_PERMISSIONS


def grantable_to(kind: PartyKind) -> frozenset[str]:
    """Permissions that make sense for some role of a party of `kind` (the ceiling for its API keys)."""
    return frozenset().union(*(perms for role, perms in ROLE_PERMISSIONS.items() if ROLE_PARTY_KIND[role] == kind))


def role_requires_mfa(role: str, *, party_users_require_mfa: bool) -> bool:
    """Platform staff always need two-factor; other parties' users when the platform setting says so."""
    kind = ROLE_PARTY_KIND.get(role)
    return kind == PartyKind.PLATFORM or party_users_require_mfa


def permissions_for(role: str) -> frozenset[str]:
    """Permissions of a role; an unknown role (say, one retired since the token was issued) grants nothing."""
    return ROLE_PERMISSIONS.get(role, frozenset())
