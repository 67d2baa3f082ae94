"""History entries: who changed which field of which record from what to what."""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import re

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone, translation

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


def history_page(instance, *, limit: int, cursor: str | None = None) -> tuple[list[ChangeLog], str | None]:
    """A page of what the record's history shows, newest first, from `cursor` (the `next_cursor` of the
    page before; a `core.keyset` cursor of (time, id), derived entries counting as id 0)."""
    from django.db.models import Q

    from .keyset import decode_cursor, encode_cursor

    stored = for_record(instance).order_by("-at", "-id")
    derived = derived_entries(instance)
    if cursor:
        at, pk = decode_cursor(ChangeLog, "at", cursor)
        stored = stored.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
        derived = [e for e in derived if (e.at, 0) < (at, pk)]
    entries = [*stored[: limit + 1], *derived]
    entries.sort(key=lambda e: (e.at, e.pk or 0), reverse=True)
    more = len(entries) > limit
    entries = entries[:limit]
    return entries, (encode_cursor(entries[-1].at, entries[-1].pk or 0) if more else None)


def keep_derived(instance) -> int:
    """Store a record's derived entries as ChangeLog rows, before its history moves to another record
    (a merge): what was derived from the record's own id would not follow it."""
    entries = derived_entries(instance)
    ChangeLog.objects.bulk_create(entries)
    return len(entries)


# --- showing entries in the reader's language --------------------------------------------------------
# Entries keep the labels, choice values and notes as their writer saw them (a rep's Chinese, an
# integrator's English, a job's default). They are shown in the reader's language: labels and notes that
# are one of the app's own messages are looked up in the translations (notes with names in them, such as
# the pool a record was claimed from, stay as written), and a choice field's values are mapped back to
# their code and shown with the reader's label.


@functools.cache
def _history_models() -> dict[str, type]:
    """object type → model, for every model whose history entries are written under its class-level type."""
    from django.apps import apps

    found = {}
    for model in apps.get_models():
        object_type = model.__dict__.get("history_type") or model.__dict__.get("object_type")
        if isinstance(object_type, str):  # not a model field of that name
            found.setdefault(str(object_type), model)
    return found


@functools.cache
def _texts_in_every_language(field) -> dict[str, object]:
    """A choice field's shown text, in every language of the site → its stored value."""
    from django.conf import settings

    texts: dict[str, object] = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts.update((str(label), value) for value, label in field.flatchoices)
    return texts


@functools.cache
def _message_ids(language: str) -> dict[str, str]:
    """The app's messages in `language` (its translation catalog, plain messages only) → their source text."""
    catalog = translation.trans_real.translation(language)._catalog  # noqa: SLF001 - Django's own merged catalog
    return {
        text: key
        for key, text in catalog.items()
        if isinstance(key, str) and isinstance(text, str) and text and "\x04" not in key  # no plurals, no contexts
    }


def _message_in_reader_language(text: str) -> str:
    from django.conf import settings

    if not text:
        return text
    for code, _name in settings.LANGUAGES:
        source = _message_ids(code).get(text)
        if source is not None:
            return translation.gettext(source)
    return translation.gettext(text)  # an English source text, or the writer's own words (unchanged)


def _choice_in_reader_language(field, text: str) -> str:
    value = _texts_in_every_language(field).get(text)
    if value is None:
        return text
    return str(dict(field.flatchoices).get(value, text))


def shown_changes(entry) -> list[dict]:
    """The entry's changes with labels and choice values in the reader's language."""
    model = _history_models().get(entry.object_type)
    changes = entry.changes if isinstance(entry.changes, list) else []
    shown = []
    for change in changes:
        if not isinstance(change, dict):
            continue
        change = {**change, "label": _message_in_reader_language(str(change.get("label") or ""))}
        try:
            field = model._meta.get_field(change.get("field") or "") if model is not None else None
        except FieldDoesNotExist:  # not one of the record's own fields (its team, tags, roles …)
            shown.append(change)
            continue
        if getattr(field, "choices", None):
            for side in ("old", "new"):
                change[side] = _choice_in_reader_language(field, str(change.get(side) or ""))
        shown.append(change)
    return shown


_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")


def _pattern(text: str) -> re.Pattern | None:
    """A regular expression matching `text` (a message with %(name)s / %(name)d placeholders) whatever
    the values; None when a name repeats (no one way to read it back)."""
    parts, names, at = [], set(), 0
    for found in _PLACEHOLDER.finditer(text):
        name, kind = found.groups()
        if name in names:
            return None
        names.add(name)
        parts.append(re.escape(text[at : found.start()].replace("%%", "%")))
        parts.append(f"(?P<{name}>-?\\d+)" if kind == "d" else f"(?P<{name}>.+?)")
        at = found.end()
    parts.append(re.escape(text[at:].replace("%%", "%")))
    return re.compile("".join(parts), re.DOTALL)


@functools.cache
def _message_patterns() -> list[tuple[re.Pattern, str]]:
    """(pattern, source text) for every message with named placeholders, as written in each language."""
    from django.conf import settings

    found, seen = [], set()
    for code, _name in settings.LANGUAGES:
        for text, source in _message_ids(code).items():
            for written in (text, source):  # translated, and as written in the source (English)
                if (written, source) in seen or "%(" not in source or not _PLACEHOLDER.search(written):
                    continue
                seen.add((written, source))
                pattern = _pattern(written)
                if pattern is not None:
                    found.append((pattern, source))
    return found


def in_reader_language(text: str) -> str:
    """`text` in the reader's language if it is one of the app's messages (names and numbers in it kept)."""
    from django.conf import settings

    for code, _name in settings.LANGUAGES:
        source = _message_ids(code).get(text)
        if source is not None:
            return translation.gettext(source)
    for pattern, source in _message_patterns():
        found = pattern.fullmatch(text)
        if found is not None:
            values = {k: int(v) if _is_number_placeholder(source, k) else v for k, v in found.groupdict().items()}
            try:
                return translation.gettext(source) % values
            except (KeyError, TypeError, ValueError):
                return text
    return translation.gettext(text)  # an English source text, or the writer's own words (unchanged)


def _is_number_placeholder(source: str, name: str) -> bool:
    return f"%({name})d" in source


def shown_note(entry) -> str:
    """The note in the reader's language where it is made of the app's own messages (joined by " · "),
    names and numbers kept as written."""
    note = entry.note or ""
    return " · ".join(in_reader_language(part) for part in note.split(" · "))
