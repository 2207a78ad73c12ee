"""Parties: creating, changing and reading merchants, logistics partners, suppliers and the platform."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from auth.principal import Principal
from auth.scoping import readable, writable
from domain.errors import AlreadyExists, InvalidInput, MfaRequired, NotFound
from domain.models import Party
from domain.money import normalize_currency, parse_amount
from domain.parties import (
    KycStatus,
    MerchantTier,
    PartyKind,
    RiskLevel,
    SettlementCycle,
    SettlementProfile,
    default_settlement_profile,
    name_key,
    normalize_name,
    validate_account_number,
)
from domain.services import auth_events
from domain.services.authorization import require, require_mfa
from domain.services.pagination import Page, PageRequest, fetch_page
from domain.services.runtime import Runtime

PLATFORM_NAME = "Platform"
BANK_ACCOUNT_PURPOSE = "party.bank_account_number"
MAX_CATEGORY_LENGTH = 100


@dataclass(frozen=True)
class SettlementProfileDraft:
    """A settlement profile as a caller sends it; `minimum_payout` in major units of `currency`."""

    currency: str
    cycle: SettlementCycle
    anchor_day: int
    delay_days: int
    minimum_payout: str | int | Decimal
    hold_days: int
    reserve_bps: int = 0
    reserve_days: int = 0

    def to_profile(self) -> SettlementProfile:
        currency = normalize_currency(self.currency, field="settlementProfile.currency")
        minimum = parse_amount(self.minimum_payout, currency, field="settlementProfile.minimumPayout")
        return SettlementProfile(
            currency=minimum.currency,
            cycle=self.cycle,
            anchor_day=self.anchor_day,
            delay_days=self.delay_days,
            minimum_payout=minimum,
            hold_days=self.hold_days,
            reserve_bps=self.reserve_bps,
            reserve_days=self.reserve_days,
        )


@dataclass(frozen=True)
class BankAccountDraft:
    holder_name: str
    bank_name: str
    account_number: str


@dataclass(frozen=True)
class MerchantDraft:
    name: str
    tier: MerchantTier = MerchantTier.STANDARD
    category: str | None = None
    kyc_status: KycStatus = KycStatus.PENDING
    risk_level: RiskLevel = RiskLevel.LOW
    contact_email: str | None = None
    settlement_profile: SettlementProfileDraft | None = None
    bank_account: BankAccountDraft | None = None


@dataclass(frozen=True)
class MerchantChanges:
    """Only the fields that are not None change."""

    name: str | None = None
    tier: MerchantTier | None = None
    category: str | None = None
    kyc_status: KycStatus | None = None
    risk_level: RiskLevel | None = None
    contact_email: str | None = None
    settlement_profile: SettlementProfileDraft | None = None
    bank_account: BankAccountDraft | None = None


@dataclass(frozen=True)
class PartnerDraft:
    """A logistics partner or a supplier."""

    name: str
    contact_email: str | None = None
    settlement_profile: SettlementProfileDraft | None = None
    bank_account: BankAccountDraft | None = None


@dataclass(frozen=True)
class MerchantFilter:
    tier: MerchantTier | None = None
    kyc_status: KycStatus | None = None
    name_contains: str | None = None


def _clean_category(category: str | None) -> str | None:
    if category is None:
        return None
    cleaned = " ".join(category.split())
    if not cleaned or len(cleaned) > MAX_CATEGORY_LENGTH:
        raise InvalidInput(
            "INVALID_CATEGORY", f"category must be 1 to {MAX_CATEGORY_LENGTH} characters", field="category"
        )
    return cleaned


def _clean_email(email: str | None) -> str | None:
    if email is None:
        return None
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or len(cleaned) > 254 or " " in cleaned:
        raise InvalidInput("INVALID_EMAIL", f"contactEmail {email!r} is not an email address", field="contactEmail")
    return cleaned


def _apply_bank_account(party: Party, draft: BankAccountDraft, runtime: Runtime) -> None:
    number = validate_account_number(draft.account_number)
    party.bank_account_holder = normalize_name(draft.holder_name, field="bankAccount.holderName")
    party.bank_name = normalize_name(draft.bank_name, field="bankAccount.bankName")
    party.bank_account_ciphertext = runtime.data_keys.encrypt(number, purpose=BANK_ACCOUNT_PURPOSE)
    party.bank_account_last4 = number[-4:]
    party.bank_account_changed_at = runtime.now()


async def _ensure_name_free(kind: PartyKind, name: str, *, except_id: int | None = None) -> None:
    clash = Party.filter(kind=kind, name_key=name_key(name))
    if except_id is not None:
        clash = clash.exclude(id=except_id)
    if await clash.exists():
        raise AlreadyExists("DUPLICATE_NAME", f"a {kind.value.lower()} named {name!r} already exists", field="name")


def _require_person_with_two_factor(principal: Principal, action: str) -> None:
    """KYC and bank accounts decide where money goes: a person in a two-factor session changes them, never an
    API key, whatever permissions it holds (a key can never pass two-factor login)."""
    if principal.user_id is None or not principal.mfa_passed:
        raise MfaRequired(f"{action}, by a person and never by an API key,")


async def _record_change(principal: Principal, party: Party, kind: str, detail: str) -> None:
    await auth_events.record(kind, party_id=party.id, actor=principal, detail=detail)


def _bank_account_detail(party: Party) -> str:
    return f"bank account now {party.bank_name} ****{party.bank_account_last4}"


async def _save_new(principal: Principal, party: Party) -> Party:
    kind = party.kind.value.lower()
    try:
        async with in_transaction():
            await party.save()
            await _record_change(principal, party, f"{kind}_created", f"{kind} {party.name!r} created")
            if party.bank_account_ciphertext is not None:
                await _record_change(principal, party, "bank_account_changed", _bank_account_detail(party))
    except IntegrityError:
        # Lost a race with a concurrent create of the same name: the unique index decided.
        raise AlreadyExists(
            "DUPLICATE_NAME",
            f"a {party.kind.value.lower()} named {party.name!r} already exists",
            field="name",
        ) from None
    return party


def _new_party(
    kind: PartyKind, name: str, contact_email: str | None, profile_draft: SettlementProfileDraft | None
) -> Party:
    profile = profile_draft.to_profile() if profile_draft else default_settlement_profile()
    party = Party(kind=kind, name=name, name_key=name_key(name), contact_email=_clean_email(contact_email))
    party.apply_settlement_profile(profile)
    return party


async def create_merchant(principal: Principal, runtime: Runtime, draft: MerchantDraft) -> Party:
    require(principal, "merchants:write")
    if draft.kyc_status != KycStatus.PENDING:
        _require_person_with_two_factor(principal, "setting a KYC status")
    if draft.bank_account is not None:
        _require_person_with_two_factor(principal, "setting a bank account")
    name = normalize_name(draft.name)
    party = _new_party(PartyKind.MERCHANT, name, draft.contact_email, draft.settlement_profile)
    party.tier = draft.tier
    party.category = _clean_category(draft.category)
    party.kyc_status = draft.kyc_status
    party.risk_level = draft.risk_level
    if draft.bank_account is not None:
        _apply_bank_account(party, draft.bank_account, runtime)
    await _ensure_name_free(PartyKind.MERCHANT, name)
    return await _save_new(principal, party)


async def create_partner(principal: Principal, runtime: Runtime, kind: PartyKind, draft: PartnerDraft) -> Party:
    assert kind in (PartyKind.LOGISTICS, PartyKind.SUPPLIER)
    require(principal, "partners:write")
    if draft.bank_account is not None:
        _require_person_with_two_factor(principal, "setting a bank account")
    name = normalize_name(draft.name)
    party = _new_party(kind, name, draft.contact_email, draft.settlement_profile)
    if draft.bank_account is not None:
        _apply_bank_account(party, draft.bank_account, runtime)
    await _ensure_name_free(kind, name)
    return await _save_new(principal, party)


async def update_merchant(principal: Principal, runtime: Runtime, merchant_id: int, changes: MerchantChanges) -> Party:
    require(principal, "merchants:write")
    if changes.kyc_status is not None:
        _require_person_with_two_factor(principal, "changing a KYC status")
    if changes.bank_account is not None:
        _require_person_with_two_factor(principal, "changing a bank account")
    # Validate everything before touching the row, so a bad field leaves nothing half written.
    name = normalize_name(changes.name) if changes.name is not None else None
    category = _clean_category(changes.category)
    email = _clean_email(changes.contact_email)
    profile = changes.settlement_profile.to_profile() if changes.settlement_profile else None
    async with in_transaction():
        party = (
            await writable(principal, Party).select_for_update().get_or_none(id=merchant_id, kind=PartyKind.MERCHANT)
        )
        if party is None:
            raise NotFound("merchant")
        changed: list[str] = []
        if name is not None and name_key(name) != party.name_key:
            await _ensure_name_free(PartyKind.MERCHANT, name, except_id=party.id)
            changed.append(f"name {party.name!r} -> {name!r}")
            party.name, party.name_key = name, name_key(name)
        for attribute, value in (
            ("tier", changes.tier),
            ("category", category),
            ("kyc_status", changes.kyc_status),
            ("risk_level", changes.risk_level),
            ("contact_email", email),
        ):
            if value is not None and value != getattr(party, attribute):
                changed.append(f"{attribute} {_shown(getattr(party, attribute))} -> {_shown(value)}")
                setattr(party, attribute, value)
        if profile is not None:
            party.apply_settlement_profile(profile)
            changed.append("settlement profile")
        if changes.bank_account is not None:
            _apply_bank_account(party, changes.bank_account, runtime)
        try:
            await party.save()
        except IntegrityError:
            raise AlreadyExists("DUPLICATE_NAME", f"a merchant named {name!r} already exists", field="name") from None
        # Every change is on record, in the transaction that made it; a bank account has an event of its own.
        await _record_change(principal, party, "merchant_updated", "; ".join(changed) or "no field changed")
        if changes.bank_account is not None:
            await _record_change(principal, party, "bank_account_changed", _bank_account_detail(party))
    return party


def _shown(value: object) -> str:
    return str(getattr(value, "value", value))


async def get_party(principal: Principal, party_id: int, kind: PartyKind | None = None) -> Party:
    require(principal, "parties:read")
    query = readable(principal, Party).filter(id=party_id)
    if kind is not None:
        query = query.filter(kind=kind)
    party = await query.first()
    if party is None:
        raise NotFound(kind.value.lower() if kind else "party")
    return party


async def parties_by_ids(principal: Principal, party_ids: list[int]) -> dict[int, Party]:
    """For data loaders and node lookups: what is out of scope is simply missing."""
    require(principal, "parties:read")
    rows = await readable(principal, Party).filter(id__in=party_ids)
    return {row.id: row for row in rows}


async def list_merchants(
    principal: Principal, runtime: Runtime, page: PageRequest, filters: MerchantFilter = MerchantFilter()
) -> Page[Party]:
    require(principal, "parties:read")
    query = readable(principal, Party).filter(kind=PartyKind.MERCHANT)
    if filters.tier is not None:
        query = query.filter(tier=filters.tier)
    if filters.kyc_status is not None:
        query = query.filter(kyc_status=filters.kyc_status)
    if filters.name_contains:
        query = query.filter(name_key__contains=name_key(filters.name_contains))
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def list_partners(principal: Principal, runtime: Runtime, kind: PartyKind, page: PageRequest) -> Page[Party]:
    require(principal, "parties:read")
    query = readable(principal, Party).filter(kind=kind)
    return await fetch_page(query, page.checked(runtime.max_page_size))


async def reveal_account_number(principal: Principal, runtime: Runtime, party: Party) -> str | None:
    """The full bank account number; callers must hold pii:reveal, and the party must be in scope."""
    require(principal, "pii:reveal")
    if party.bank_account_ciphertext is None:
        return None
    if not await readable(principal, Party).filter(id=party.id).exists():
        raise NotFound("party")
    return runtime.data_keys.decrypt(party.bank_account_ciphertext, purpose=BANK_ACCOUNT_PURPOSE)


async def ensure_platform_party(currency: str = "CNY") -> Party:
    """The one platform party; created on first use (bootstrap, demo)."""
    existing = await Party.filter(kind=PartyKind.PLATFORM).order_by("id").first()
    if existing is not None:
        return existing
    async with in_transaction():
        party = await Party.filter(kind=PartyKind.PLATFORM).order_by("id").first()
        if party is None:
            party = _new_party(PartyKind.PLATFORM, PLATFORM_NAME, None, None)
            party.apply_settlement_profile(default_settlement_profile(currency))
            await party.save()
    return party


async def find_party_by_name(principal: Principal, kind: PartyKind, name: str) -> Party | None:
    require(principal, "parties:read")
    return await readable(principal, Party).filter(kind=kind, name_key=name_key(name)).first()


def _profile_text(profile: SettlementProfile) -> str:
    reserve = f", reserve {profile.reserve_bps} bps for {profile.reserve_days} days" if profile.reserve_bps else ""
    return (
        f"{profile.cycle} anchor {profile.anchor_day}, T+{profile.delay_days}, minimum "
        f"{profile.minimum_payout.format()} {profile.currency}, hold {profile.hold_days} days{reserve}"
    )


async def update_settlement_profile(
    principal: Principal, runtime: Runtime, party_id: int, draft: SettlementProfileDraft
) -> Party:
    """Any party's settlement terms: merchants need merchants:write, partners partners:write. Platform staff
    change them in a two-factor session; the change is an auth event with the terms before and after."""
    kind = await writable(principal, Party).filter(id=party_id).values_list("kind", flat=True)
    if not kind:
        raise NotFound("party", field="partyId")
    require(principal, "merchants:write" if kind[0] == PartyKind.MERCHANT else "partners:write")
    if principal.party_kind is PartyKind.PLATFORM:
        require_mfa(principal, "changing a settlement profile")
    profile = draft.to_profile()  # validated before anything is locked or written
    async with in_transaction():
        party = await writable(principal, Party).select_for_update().get(id=party_id)
        before = party.settlement_profile()
        party.apply_settlement_profile(profile)
        await party.save()
        await _record_change(
            principal,
            party,
            "settlement_profile_changed",
            f"{_profile_text(before)} -> {_profile_text(profile)}"[:400],
        )
    return party
