"""Keyset (seek) pagination: the next page starts after the last row seen, never at an OFFSET."""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.query import ModelIterable
from django.db.models.sql.where import WhereNode
from django.utils import timezone
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
        value = field.to_python(value)
        # Cursors are only ever made from non-null values, and times with their zone: anything else is forged
        if value is None or (isinstance(value, datetime.datetime) and timezone.is_naive(value)):
            raise ValueError(value)
        if isinstance(value, str):
            value.encode("utf-8")  # a lone surrogate ("\ud800") is in no row: UnicodeEncodeError
        return value, int(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeError, ValidationError):
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
    branches = visibility_branches(qs) if _orderable_in_python(qs.model, field) else None
    rows = _page_by_clause(qs, branches, field=field, descending=descending, limit=limit) if branches else None
    if rows is None:
        rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, field), last.pk)
    return rows, next_cursor


def _orderable_in_python(model, field_name: str) -> bool:
    """Values Python sorts exactly as both databases do: non-null dates, times and numbers (text follows
    the database's collation, and NULLs sort first on SQLite but last on PostgreSQL)."""
    try:
        field = model._meta.get_field(field_name)
    except FieldDoesNotExist:  # an annotation or a related path: not ours to sort
        return False
    kinds = (models.DateTimeField, models.DateField, models.IntegerField, models.DecimalField, models.FloatField)
    return not field.null and isinstance(field, kinds)


# SQLite, without statistics, reads "status = ? AND id IN (more than three ids)" along the status index:
# ids shared with him are looked up three at a time, and more than
# SHARED_IDS_AT_MOST shared ids go back to the single OR query.
IDS_PER_LOOKUP = 3
SHARED_IDS_AT_MOST = 60


def visibility_branches(qs) -> list[tuple[object, bool]] | None:
    """`qs` split along its visibility clauses, when it has several: (queryset, by_index) pairs whose
    union is `qs`; by_index False for a few named ids (records shared with him), read three at a time.
    None when `qs` is better asked as it is (querysets combined with | or union() lose the clauses: see
    VisibleQuerySet.__or__)."""
    clauses = getattr(qs.query, "visibility_clauses", None)
    # annotations may count rows of joins the filters made, which reading by id alone would lose
    if not clauses or qs._iterable_class is not ModelIterable or qs.query.annotations:
        return None
    branches = []
    for clause in clauses:
        named = _named_ids(clause)
        if named is None:
            branches.append((qs.filter(clause), True))
            continue
        ids = list(named)
        if len(ids) > SHARED_IDS_AT_MOST:
            return None
        branches += [(qs.filter(pk__in=ids[i : i + IDS_PER_LOOKUP]), False) for i in range(0, len(ids), IDS_PER_LOOKUP)]
    return branches


def _page_by_clause(qs, branches, *, field: str, descending: bool, limit: int) -> list | None:
    """The first `limit + 1` rows of `qs` (already ordered and past the cursor) when its visibility is an
    OR of clauses: the keys of each clause's own first rows, merged, then those rows read by id. Asked as one OR,
    SQLite walks the whole newest-first index for a rep with a few own and a few shared records.
    None when a clause repeats a row (a join fans out): then `qs` is asked as it is."""
    keys = set()
    for branch, by_index in branches:
        keyed = branch.values_list(field, "pk")
        found = list(keyed[: limit + 1] if by_index else keyed.order_by())  # ordered, SQLite would scan for ids
        if len(set(found)) < len(found):
            return None
        keys.update(found)
    first = [pk for _value, pk in sorted(keys, reverse=descending)[: limit + 1]]
    if not first:
        return []
    # Read by id alone: with its filters SQLite would again prefer their index to a list of ids. Every id
    # passed those filters a moment ago (a record unshared in that moment shows as on a page read then).
    rows = qs.order_by()
    rows.query.where = WhereNode()
    found = {row.pk: row for row in rows.filter(pk__in=first)}
    return [found[pk] for pk in first if pk in found]


def _named_ids(clause: Q):
    """The ids a `pk__in` clause names (a queryset or a list), else None."""
    if len(clause.children) == 1 and isinstance(clause.children[0], tuple) and clause.children[0][0] == "pk__in":
        value = clause.children[0][1]
        return value.values_list(value.query.values_select[0], flat=True) if hasattr(value, "query") else value
    return None
