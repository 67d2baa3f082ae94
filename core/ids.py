"""Record ids from form fields, query strings and API payloads.

A browser or a client may send anything where an id belongs: "abc", "²", a 20-digit number (beyond what
a database key holds: SQLite's driver raises OverflowError, PostgreSQL a DataError) or 5,000 digits
(Python refuses to convert them). Each is "no such record", never a server error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

MAX_ID = 2**63 - 1  # a 64-bit key: bigint on PostgreSQL, INTEGER on SQLite
MAX_COUNT = 2**31 - 1  # a PostgreSQL integer column: limits, caps, days


def parse_id(value) -> int | None:
    """The id `value` names, or None when it cannot name a record."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdecimal() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def parse_ids(values: Iterable) -> list[int]:
    """The ids among `values`, in order; the rest dropped."""
    return [pk for pk in map(parse_id, values) if pk is not None]


def ids_or_error(values: Iterable | None, field: str) -> list[int]:
    """Every one of `values` as an id, in order, repeats dropped; one that cannot name a record is the
    field's invalid choice."""
    parsed = [parse_id(value) for value in values or ()]
    if None in parsed:
        raise ValidationError({field: [_("Select a valid choice. That choice is not one of the available choices.")]})
    return list(dict.fromkeys(parsed))


def _not_a_boolean(value):
    """JSON's true and false are not numbers, though pydantic would read them as 1 and 0: `"owner_id": true`
    would name user 1."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def whole(ge: int | None = None, le: int | None = None):
    """For API input schemas: a whole number that is not true or false, within bounds. The bounds come
    before the check (bounds given to the field itself would follow it and be documented as pydantic's
    own `ge`/`le`, which no OpenAPI tool reads)."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_not_a_boolean)]


Int = whole()
Id = whole(1, MAX_ID)  # an id a database key can hold
