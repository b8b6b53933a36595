"""Kubernetes resource quantities ("8", "500m", "80Gi", "1e3") parsed to Decimal."""

from __future__ import annotations

import re
from decimal import Decimal

# The expression the API server quotes when a quantity does not parse.
API_SERVER_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)

_MULTIPLIERS: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: object) -> Decimal:
    """Parse a quantity given as a string or a JSON number; raise ValueError if it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"not a quantity: {value!r}")
    number = Decimal(match.group("number"))
    suffix = match.group("suffix") or ""
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _MULTIPLIERS[suffix]


def parse_count(value: object) -> int:
    """A quantity as a whole count (GPUs): "8" -> 8, "8000m" -> 8; fractions round down."""
    return int(parse_quantity(value))


def format_quantity(value: Decimal) -> str:
    """Render a Decimal the way the API server renders small plain quantities ("8", "0.5")."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")
