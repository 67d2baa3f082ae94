"""History entries: who changed which field of which record from what to what."""

from __future__ import annotations

import datetime
import decimal
import json

from django.db import models
from django.utils import timezone

from .models import ChangeLog


def display_value(instance, field_name: str) -> str:
    field = instance._meta.get_field(field_name)
    if isinstance(field, models.ForeignKey):
        related = getattr(instance, field_name)
        return "" if related is None else str(related)
    value = getattr(instance, field_name)
    if value is None:
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, dict | list):  # JSON settings (per-grade days, conditions): stable text, "" when empty
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date | decimal.Decimal):
        return str(value)
    return str(value)


def snapshot(instance) -> dict[str, str]:
    return {name: display_value(instance, name) for name in instance.history_fields}


def changes_between(before: dict[str, str], after: dict[str, str], labels: dict) -> list[dict]:
    """History changes for the fields in `labels` whose shown value differs; `before={}` for a create."""
    return [
        {"field": name, "label": str(label), "old": before.get(name, ""), "new": after.get(name, "")}
        for name, label in labels.items()
        if before.get(name, "") != after.get(name, "")
    ]


def field_labels(instance) -> dict:
    return {name: instance._meta.get_field(name).verbose_name for name in instance.history_fields}


def diff(instance, before: dict[str, str], after: dict[str, str]) -> list[dict]:
    return changes_between(before, after, field_labels(instance))


def write(*, instance, action: str, actor, changes=(), note: str = "", object_type: str = "") -> ChangeLog:
    """`object_type`: for settings whose own `object_type` field means something else (a pool's kind)."""
    return ChangeLog.objects.create(
        object_type=object_type or instance.object_type,
        object_id=instance.pk,
        object_repr=str(instance)[:300],
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        changes=list(changes),
        note=note[:500],
    )


def for_record(instance, object_type: str = ""):
    """The stored history entries of a record (see `entries_for` for everything its history shows);
    `object_type` as for `write`."""
    return ChangeLog.objects.filter(
        object_type=object_type or instance.object_type, object_id=instance.pk
    ).select_related("actor")


# Functions giving a record's history entries that are kept elsewhere, not as ChangeLog rows: an import
# records its created leads once per run of rows (imports.history). Each takes the record and returns
# unsaved ChangeLog instances; apps register theirs when they load.
_derived: list = []


def register_derived(source) -> None:
    if source not in _derived:
        _derived.append(source)


def derived_entries(instance) -> list[ChangeLog]:
    return [entry for source in _derived for entry in source(instance)]


def entries_for(instance, limit: int = 50) -> list[ChangeLog]:
    """What a record's history shows, newest first: its stored entries and the derived ones."""
    entries = [*for_record(instance)[:limit], *derived_entries(instance)]
    entries.sort(key=lambda e: (e.at, e.pk or 0), reverse=True)
    return entries[:limit]


def keep_derived(instance) -> int:
    """Store a record's derived entries as ChangeLog rows, before its history moves to another record
    (a merge): what was derived from the record's own id would not follow it."""
    entries = derived_entries(instance)
    ChangeLog.objects.bulk_create(entries)
    return len(entries)
