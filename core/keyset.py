"""Keyset (seek) pagination: the next page starts after the last row seen, never at an OFFSET."""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _


def _encode_value(value):
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def encode_cursor(value, pk) -> str:
    raw = json.dumps([_encode_value(value), pk], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(model, field_name: str, cursor: str):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        field = model._meta.get_field(field_name)
        return field.to_python(value), int(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, ValidationError):
        raise ValidationError({"cursor": [_("This cursor is not valid; start again from the first page.")]}) from None


def parse_ordering(ordering: str | None, allowed: dict[str, str], default: str) -> tuple[str, bool]:
    """`-created_at` → ("created_at", True). `allowed` maps public names to model fields."""
    ordering = (ordering or default).strip()
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")
    if name not in allowed:
        raise ValidationError({"ordering": [_("Sort by one of: %(fields)s.") % {"fields": ", ".join(sorted(allowed))}]})
    return allowed[name], descending


def keyset_page(qs, *, field: str, descending: bool, cursor: str | None, limit: int):
    """Rows after `cursor` in (field, id) order, and the cursor of the page after them (or None)."""
    direction = "-" if descending else ""
    qs = qs.order_by(f"{direction}{field}", f"{direction}id")
    if cursor:
        value, pk = decode_cursor(qs.model, field, cursor)
        if descending:
            qs = qs.filter(Q(**{f"{field}__lt": value}) | Q(**{field: value, "id__lt": pk}))
        else:
            qs = qs.filter(Q(**{f"{field}__gt": value}) | Q(**{field: value, "id__gt": pk}))
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, field), last.pk)
    return rows, next_cursor
