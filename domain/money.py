"""Money as integer minor units plus an ISO 4217 currency; the one place an amount is cut into parts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidInput

# ISO 4217 minor-unit exponents for the currencies a marketplace in our markets settles in.
# A currency missing here is unknown and rejected, never guessed.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2,
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CLP": 0,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "ILS": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PHP": 2,
    "PLN": 2,
    "SAR": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TND": 3,
    "TRY": 2,
    "TWD": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}

# ASCII digits, an optional point and digits; no sign, exponent, spaces, grouping separators or other scripts'
# digits (int() reads fullwidth "150" as 150).
_DECIMAL_TEXT = re.compile(r"(?P<units>[0-9]+)(?:\.(?P<fraction>[0-9]+))?", re.ASCII)
# Longer text is no amount the ledger accepts; refused before any conversion, so a huge input costs nothing.
MAX_AMOUNT_TEXT = 40
# Amounts beyond this do not fit a PostgreSQL bigint once summed; no real payment comes near.
MAX_AMOUNT_MINOR = 10**15


def currency_exponent(currency: str, *, field: str = "currency") -> int:
    """Number of decimals of `currency`; raises InvalidInput naming `field` for a code we do not know."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InvalidInput(
            "UNKNOWN_CURRENCY",
            f"unknown currency {currency!r}: use an ISO 4217 code such as CNY, USD or JPY",
            field=field,
        ) from None


def normalize_currency(currency: str, *, field: str = "currency") -> str:
    """Upper-cases and validates a currency code."""
    code = currency.strip().upper()
    currency_exponent(code, field=field)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `amount_minor` units of 10**-exponent of `currency`."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        # Raised, not asserted, so that a float or a bool never becomes an amount under python -O either.
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError(f"an amount is an int of minor units, not {type(self.amount_minor).__name__}")
        currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """Major units, exact (for display only; arithmetic stays in minor units)."""
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def format(self) -> str:
        """Major units as text with exactly the currency's number of decimals: '150.00', '-0.05', '100'."""
        exponent = currency_exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        units, fraction = divmod(abs(self.amount_minor), 10**exponent)
        return f"{sign}{units}.{fraction:0{exponent}d}" if exponent else f"{sign}{units}"


def parse_amount(
    text: str | int | Decimal, currency: str, *, field: str = "amount", allow_negative: bool = False
) -> Money:
    """Parse major units ('150.00', '150', 150) of `currency` into exact minor units.

    Rejects more decimals than the currency has (never rounds), negative amounts unless allowed,
    floats, and anything that is not a plain decimal number.
    """
    code = normalize_currency(currency)
    exponent = currency_exponent(code)
    if isinstance(text, (bool, float)):
        raise InvalidInput(
            "INVALID_AMOUNT",
            f'{field}: send amounts as decimal strings such as "150.00", not as floating-point numbers',
            field=field,
        )
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise InvalidInput("INVALID_AMOUNT", f"{field}: {text} is not a finite amount", field=field)
        _sign, digits, exponent_of_text = text.as_tuple()
        # Checked before format(): Decimal("1E+999999999") is a few bytes that format() turns into a billion digits.
        if len(digits) > MAX_AMOUNT_TEXT or not -MAX_AMOUNT_TEXT <= int(exponent_of_text) <= MAX_AMOUNT_TEXT:
            raise InvalidInput("INVALID_AMOUNT", f"{field}: the amount is out of range", field=field)
        text = format(text, "f")
    if isinstance(text, int) and abs(text) >= 10**MAX_AMOUNT_TEXT:
        raise InvalidInput("INVALID_AMOUNT", f"{field}: the amount is out of range", field=field)
    raw = str(text).strip()
    if len(raw) > MAX_AMOUNT_TEXT:
        raise InvalidInput(
            "INVALID_AMOUNT", f"{field}: an amount has at most {MAX_AMOUNT_TEXT} characters", field=field
        )
    negative = raw.startswith("-")
    body = raw[1:] if negative else raw
    match = _DECIMAL_TEXT.fullmatch(body)
    if match is None:
        raise InvalidInput(
            "INVALID_AMOUNT",
            f'{field}: {raw!r} is not a decimal amount (expected digits with an optional point, e.g. "150.00")',
            field=field,
        )
    fraction = match.group("fraction") or ""
    if len(fraction) > exponent:
        raise InvalidInput(
            "TOO_MANY_DECIMALS",
            f"{field}: {raw} has {len(fraction)} decimals but {code} allows {exponent}",
            field=field,
        )
    amount_minor = int(match.group("units")) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if negative and amount_minor != 0:
        if not allow_negative:
            raise InvalidInput("NEGATIVE_AMOUNT", f"{field}: {raw} is negative; it must be zero or more", field=field)
        amount_minor = -amount_minor
    if abs(amount_minor) > MAX_AMOUNT_MINOR:
        raise InvalidInput(
            "AMOUNT_TOO_LARGE", f"{field}: {raw} {code} exceeds the largest amount accepted", field=field
        )
    return Money(amount_minor, code)


def allocate(total_minor: int, weights: Sequence[int]) -> tuple[int, ...]:
    """Split total_minor in proportion to weights; parts sum to total_minor exactly.

    Largest remainder method: every part gets the floor of its exact share, then the units left over go
    one each to the parts with the largest remainders. Ties go to the larger weight (so 5 split 70/30 is 4 and
    1, whichever order the weights come in), then to the earlier position, so the result is deterministic and
    every part is within one unit of its exact share. A negative total is split as the mirror image of its
    absolute value, so reversals mirror the original split.
    """
    if not weights:
        raise ValueError("allocate needs at least one weight")
    if min(weights) < 0:
        raise ValueError("allocate weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("allocate needs at least one positive weight")
    if total_minor < 0:
        return tuple(-part for part in allocate(-total_minor, weights))

    parts = []
    remainders = []
    for weight in weights:
        quotient, remainder = divmod(total_minor * weight, weight_sum)
        parts.append(quotient)
        remainders.append(remainder)
    leftover = total_minor - sum(parts)
    if leftover == 1:  # the usual case for two or three parts: the one best-ranked part, without sorting
        parts[max(range(len(weights)), key=lambda index: (remainders[index], weights[index], -index))] += 1
    elif leftover:  # (exact shares, the common case for round rates, need no ranking at all)
        by_remainder = sorted(range(len(weights)), key=lambda index: (-remainders[index], -weights[index], index))
        for index in by_remainder[:leftover]:
            parts[index] += 1
    if sum(parts) != total_minor:  # raised, not asserted: it must hold under python -O too
        raise ArithmeticError("allocate must conserve the total")
    return tuple(parts)
