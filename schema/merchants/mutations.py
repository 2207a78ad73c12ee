"""Mutations of the party area: each unpacks its input, calls one service and maps the outcome."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.errors import DomainError
from domain.parties import PartyKind
from domain.services import parties as party_service
from domain.services.parties import MerchantChanges, MerchantDraft, PartnerDraft
from schema.context import Info
from schema.errors import DuplicateError, NotFoundError, ValidationError, user_error
from schema.ids import required_id
from schema.merchants.inputs import (
    CreateLogisticsPartnerInput,
    CreateMerchantInput,
    CreateSupplierInput,
    UpdateMerchantInput,
)
from schema.merchants.types import LogisticsPartner, Merchant, Supplier, party_from_row
from schema.permissions import describe, requires


@strawberry.type(description="The merchant was created.")
class CreateMerchantSuccess:
    merchant: Merchant = strawberry.field(description="The new merchant.")


@strawberry.type(description="The merchant was changed.")
class UpdateMerchantSuccess:
    merchant: Merchant = strawberry.field(description="The merchant as it is now.")


@strawberry.type(description="The logistics partner was created.")
class CreateLogisticsPartnerSuccess:
    logistics_partner: LogisticsPartner = strawberry.field(description="The new logistics partner.")


@strawberry.type(description="The supplier was created.")
class CreateSupplierSuccess:
    supplier: Supplier = strawberry.field(description="The new supplier.")


CreateMerchantResult = Annotated[
    CreateMerchantSuccess | ValidationError | DuplicateError,
    strawberry.union("CreateMerchantResult", description="The new merchant, or why it could not be created."),
]
UpdateMerchantResult = Annotated[
    UpdateMerchantSuccess | ValidationError | DuplicateError | NotFoundError,
    strawberry.union("UpdateMerchantResult", description="The changed merchant, or why it could not be changed."),
]
CreateLogisticsPartnerResult = Annotated[
    CreateLogisticsPartnerSuccess | ValidationError | DuplicateError,
    strawberry.union(
        "CreateLogisticsPartnerResult",
        description="The new logistics partner, or why it could not be created.",
    ),
]
CreateSupplierResult = Annotated[
    CreateSupplierSuccess | ValidationError | DuplicateError,
    strawberry.union("CreateSupplierResult", description="The new supplier, or why it could not be created."),
]


@strawberry.type
class MerchantMutation:
    @strawberry.mutation(
        description=describe("Creates a merchant.", "merchants:write"),
        extensions=[requires("merchants:write")],
    )
    async def create_merchant(self, info: Info, input: CreateMerchantInput) -> CreateMerchantResult:
        draft = MerchantDraft(
            name=input.name,
            tier=input.tier,
            category=input.category,
            kyc_status=input.kyc_status,
            risk_level=input.risk_level,
            contact_email=input.contact_email,
            settlement_profile=input.settlement_profile.to_draft() if input.settlement_profile else None,
            bank_account=input.bank_account.to_draft() if input.bank_account else None,
        )
        try:
            row = await party_service.create_merchant(info.context.principal, info.context.runtime, draft)
        except DomainError as exc:
            return user_error(exc)
        return CreateMerchantSuccess(merchant=party_from_row(row))

    @strawberry.mutation(
        description=describe(
            "Changes a merchant's profile, tier, KYC status, risk level, settlement terms or bank account.",
            "merchants:write",
        ),
        extensions=[requires("merchants:write")],
    )
    async def update_merchant(self, info: Info, input: UpdateMerchantInput) -> UpdateMerchantResult:
        changes = MerchantChanges(
            name=input.name,
            tier=input.tier,
            category=input.category,
            kyc_status=input.kyc_status,
            risk_level=input.risk_level,
            contact_email=input.contact_email,
            settlement_profile=input.settlement_profile.to_draft() if input.settlement_profile else None,
            bank_account=input.bank_account.to_draft() if input.bank_account else None,
        )
        try:
            merchant_id = required_id(input.id, "Merchant", "merchant")
            row = await party_service.update_merchant(
                info.context.principal, info.context.runtime, merchant_id, changes
            )
        except DomainError as exc:
            return user_error(exc)
        return UpdateMerchantSuccess(merchant=party_from_row(row))

    @strawberry.mutation(
        description=describe("Creates a logistics partner.", "partners:write"),
        extensions=[requires("partners:write")],
    )
    async def create_logistics_partner(
        self, info: Info, input: CreateLogisticsPartnerInput
    ) -> CreateLogisticsPartnerResult:
        try:
            row = await party_service.create_partner(
                info.context.principal, info.context.runtime, PartyKind.LOGISTICS, _partner_draft(input)
            )
        except DomainError as exc:
            return user_error(exc)
        return CreateLogisticsPartnerSuccess(logistics_partner=party_from_row(row))

    @strawberry.mutation(
        description=describe("Creates a supplier.", "partners:write"), extensions=[requires("partners:write")]
    )
    async def create_supplier(self, info: Info, input: CreateSupplierInput) -> CreateSupplierResult:
        try:
            row = await party_service.create_partner(
                info.context.principal, info.context.runtime, PartyKind.SUPPLIER, _partner_draft(input)
            )
        except DomainError as exc:
            return user_error(exc)
        return CreateSupplierSuccess(supplier=party_from_row(row))


def _partner_draft(input: CreateLogisticsPartnerInput | CreateSupplierInput) -> PartnerDraft:
    return PartnerDraft(
        name=input.name,
        contact_email=input.contact_email,
        settlement_profile=input.settlement_profile.to_draft() if input.settlement_profile else None,
        bank_account=input.bank_account.to_draft() if input.bank_account else None,
    )
