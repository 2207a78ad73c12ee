"""The Money type: an exact amount in major units with its currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.money import Money as DomainMoney


@strawberry.type(
    description="An exact amount of money. `amount` is a decimal string in major units with "
    "exactly as many decimals as the currency has (CNY 2, JPY 0, KWD 3)."
)
class Money:
    amount: Decimal = strawberry.field(description='Major units, e.g. "150.00".')
    currency: str = strawberry.field(description="ISO 4217 code, e.g. CNY.")

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=money.to_decimal(), currency=money.currency)
