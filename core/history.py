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


# Functions giving, for one reader, the history of other records that a record's page shows with its own:
# the lead an account, contact or opportunity was converted from (leads.history). Each takes the record,
# the reader and a limit, and returns entries marked with `from_record` (the record they belong to).
_related: list = []


def register_related(source) -> None:
    if source not in _related:
        _related.append(source)


def _related_entries(instance, reader, limit: int) -> list[ChangeLog]:
    if reader is None:
        return []
    return [entry for source in _related for entry in source(instance, reader, limit)]


def entries_for(instance, limit: int = 50, *, reader=None) -> list[ChangeLog]:
    """What a record's history shows, newest first: its stored entries and the derived ones, and for a
    `reader` the entries of related records he may see (a converted lead's story before the conversion)."""
    entries = [*for_record(instance)[:limit], *derived_entries(instance), *_related_entries(instance, reader, limit)]
    entries.sort(key=lambda e: (e.at, e.pk or 0), reverse=True)
    return entries[:limit]


RELATED_CAP = 1000  # entries of related records a history page reads at most


def history_page(instance, *, limit: int, cursor: str | None = None, reader=None) -> tuple[list[ChangeLog], str | None]:
    """A page of what the record's history shows, newest first, from `cursor` (the `next_cursor` of the
    page before; a `core.keyset` cursor of (time, id), derived entries counting as id 0); for a `reader`
    with the related records' entries he may see, as `entries_for`."""
    from django.db.models import Q

    from .keyset import decode_cursor, encode_cursor

    stored = for_record(instance).order_by("-at", "-id")
    derived = [*derived_entries(instance), *_related_entries(instance, reader, RELATED_CAP)]
    if cursor:
        at, pk = decode_cursor(ChangeLog, "at", cursor)
        stored = stored.filter(Q(at__lt=at) | Q(at=at, pk__lt=pk))
        derived = [e for e in derived if (e.at, e.pk or 0) < (at, pk)]
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
# Entries keep their labels, choice values and notes as their writer saw them (a rep's Chinese, an
# integrator's English, a job's default). They are shown in the reader's language where that is safe:
# a change's label from the record's model field (or a label the app registered), a choice field's value
# mapped back to its code, and notes and notifications that are one of the messages the app registered
# with `message()` (their names and numbers kept as written). Anything else — the writer's own words — is
# shown as written.

_MESSAGES: list[tuple[object, frozenset[str]]] = []  # (source, the forms it may take part in)
_LABELS: list[str] = []
_VALUE_CHOICES: dict[tuple[str, str], object] = {}  # (message source, placeholder) → choices class

# The forms a message may appear in besides on its own: parts joined by " · " (each registered with
# JOINS); a message then " — " and the user's own words (OWN_WORDS); a name, ": " and the message
# (AFTER_NAME). Only those registered for a form are read in it, so a user's note shaped like one stays.
JOINS, OWN_WORDS, AFTER_NAME = "joins", "own_words", "after_name"


def message(text: str, *forms: str) -> str:
    """Register one of the app's own note or notification messages — its English source, marked with
    `gettext_noop` where it is defined — so that what was written with it reads in any language;
    `forms`: JOINS, OWN_WORDS, AFTER_NAME."""
    _MESSAGES.append((text, frozenset(forms)))
    _message_patterns.cache_clear()
    return text


def plural_message(singular: str, plural: str, *forms: str):
    """`message` for a text with a `%(count)d`: registered as its (singular, plural) pair and returned as
    `ngettext_lazy(singular, plural, "count")`. makemessages extracts both (core's makemessages command
    declares this function as a keyword)."""
    _MESSAGES.append(((singular, plural), frozenset(forms)))
    _message_patterns.cache_clear()
    return translation.ngettext_lazy(singular, plural, "count")


def label(text: str) -> str:
    """Register a change label that is not a model field's (a record's team, tags, roles …)."""
    _LABELS.append(text)
    _label_sources.cache_clear()
    return text


def message_values(choices, *, message: str, placeholder: str) -> None:
    """A choices class whose labels fill `placeholder` of `message` (a release reason): such a value is
    shown with the reader's label too. Other placeholders (names) are always kept as written."""
    _VALUE_CHOICES[(message, placeholder)] = choices


_CHANGE_SUFFIXES: dict[str, object] = {}  # change field → choices whose label ends its values, "name (label)"


def change_value_labels(field: str, choices) -> None:
    """Values of a change `field` (not a model field) are written "name (label)" with a label of
    `choices` (a team member and his access): the label is shown in the reader's language."""
    _CHANGE_SUFFIXES[field] = choices


def _suffix_in_reader_language(choices, text: str) -> str:
    name, sep, rest = text.rpartition(" (")
    shown = _class_labels(choices).get(rest[:-1]) if sep and rest.endswith(")") else None
    return text if shown is None else f"{name} ({shown})"


def _written_labels(pairs) -> dict[str, object]:
    """Choice labels as written in any of the site's languages → the label (lazy: shown in the reader's)."""
    labels: dict[str, object] = {}
    for _value, shown in pairs:
        for written in in_every_language(shown):
            labels.setdefault(written, shown)
    return labels


@functools.cache
def _class_labels(choices) -> dict[str, object]:
    return _written_labels(choices.choices)


@functools.cache
def _field_labels(field) -> dict[str, object]:
    return _written_labels(field.flatchoices)


def _value_labels(message: str, placeholder: str) -> dict[str, object]:
    """The labels of the choices registered for `placeholder` of `message`, as written in any language."""
    choices = _VALUE_CHOICES.get((message, placeholder))
    return _class_labels(choices) if choices is not None else {}


_PLACEHOLDER = re.compile(r"%\(([A-Za-z_]\w*)\)([sd])")


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


def in_every_language(source) -> set[str]:
    """A message (an English source, or a lazy label) as written in each of the site's languages."""
    from django.conf import settings

    written = {source} if isinstance(source, str) else set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            written.add(translation.gettext(source) if isinstance(source, str) else str(source))
    return written


def _load_messages() -> None:
    """The apps register their messages in their `actions` modules: import them all, in a process that
    has imported none yet too (a worker that only renders notifications)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("actions")


def _plural_in_every_language(singular: str, plural: str) -> set[str]:
    from django.conf import settings

    written = {singular, plural}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            written.update(translation.ngettext(singular, plural, n) for n in (1, 2, 5, 21))
    return written


@functools.cache
def _message_patterns() -> list[tuple[re.Pattern, object, frozenset[str]]]:
    """(pattern, source, forms) for every registered message as written in each language, longest
    first; a plural message's source is its (singular, plural) pair."""
    _load_messages()
    found = []
    for source, forms in _MESSAGES:
        if isinstance(source, tuple):
            written, key = _plural_in_every_language(*source), source
        else:
            written, key = in_every_language(source), source
        for text in written:
            pattern = _pattern(text)
            if pattern is not None:
                found.append((pattern, key, forms))
    found.sort(key=lambda item: -len(item[0].pattern))
    return list(dict.fromkeys(found))


@functools.cache
def _label_sources() -> dict[str, object]:
    """Labels as written in any language → their lazy source: every field of every model with a history,
    and the labels the app registered."""
    from django.apps import apps

    _load_messages()
    labels: dict[str, object] = {}
    for model in apps.get_models():
        if not getattr(model, "history_fields", ()):
            continue
        for field in model._meta.get_fields():
            field_label = getattr(field, "verbose_name", None)
            if field_label and getattr(field, "concrete", False):
                for written in in_every_language(field_label):
                    labels.setdefault(written, field_label)
    for source in _LABELS:
        for written in in_every_language(source):
            labels.setdefault(written, source)
    return labels


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


def _choice_in_reader_language(field, text: str) -> str:
    shown = _field_labels(field).get(text)
    return text if shown is None else str(shown)


def _field(models_: list, name: str):
    """The first of `models_` (a record's model, then those whose changes its history also records) with
    a field `name`, or None."""
    for model in models_:
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
    return None


def _models_for(object_type: str) -> list:
    """A history type's model and the models whose changes it also records (a pool: its recycling rules)."""
    from django.apps import apps

    model = _history_models().get(object_type)
    if model is None:
        return []
    return [model, *(apps.get_model(label) for label in getattr(model, "history_also", ()))]


def _label_in_reader_language(field, change: dict) -> str:
    field_label = getattr(field, "verbose_name", None)
    if field_label:
        return str(field_label)
    label = str(change.get("label") or "")
    source = _label_sources().get(label)
    if source is None:
        return label
    return translation.gettext(source) if isinstance(source, str) else str(source)


def shown_changes(entry) -> list[dict]:
    """The entry's changes with labels and choice values in the reader's language."""
    models_ = _models_for(entry.object_type)
    changes = entry.changes if isinstance(entry.changes, list) else []
    shown = []
    for change in changes:
        if not isinstance(change, dict):
            continue
        field = _field(models_, str(change.get("field") or ""))  # None: its team, tags, roles …
        change = {**change, "label": _label_in_reader_language(field, change)}
        if getattr(field, "choices", None):
            for side in ("old", "new"):
                change[side] = _choice_in_reader_language(field, str(change.get(side) or ""))
        elif field is None and change.get("field") in _CHANGE_SUFFIXES:
            for side in ("old", "new"):
                change[side] = _suffix_in_reader_language(
                    _CHANGE_SUFFIXES[change["field"]], str(change.get(side) or "")
                )
        shown.append(change)
    return shown


def _registered_in_reader_language(text: str, form: str | None = None) -> str | None:
    for pattern, source, forms in _message_patterns():
        if form is not None and form not in forms:
            continue
        found = pattern.fullmatch(text)
        if found is None:
            continue
        sources = source if isinstance(source, tuple) else (source,)
        values = {}
        for name, value in found.groupdict().items():
            if any(f"%({name})d" in s for s in sources):
                values[name] = int(value)
            else:
                shown = _value_labels(sources[0], name).get(value)
                values[name] = value if shown is None else str(shown)
        try:
            if isinstance(source, tuple):
                return translation.ngettext(*source, int(values["count"])) % values
            return translation.gettext(source) % values
        except (KeyError, TypeError, ValueError):
            return None
    return None


def shown_note(entry) -> str:
    """An entry's note as its reader sees it: a user's own words as written (even worded like one of the
    app's messages), the app's own notes in the reader's language."""
    note = entry.note or ""
    return note if getattr(entry, "note_is_own_words", False) else in_reader_language(note)


def in_reader_language(text: str) -> str:
    """`text` in the reader's language where it is one of the app's registered messages (names and
    numbers in it kept as written), or registered messages in one of the forms they were registered for
    (see JOINS, OWN_WORDS, AFTER_NAME); otherwise as written."""
    if not text:
        return text
    at = text.find(" — ")
    while at != -1:  # a message, then what the user added (a release note)
        shown = _registered_in_reader_language(text[:at], OWN_WORDS)
        if shown is not None:
            return shown + text[at:]
        at = text.find(" — ", at + 1)
    whole = _registered_in_reader_language(text)
    if whole is not None:
        return whole
    parts = text.split(" · ")
    if len(parts) > 1:
        shown_parts = [_registered_in_reader_language(part, JOINS) for part in parts]
        if all(part is not None for part in shown_parts):
            return " · ".join(shown_parts)
    name, sep, rest = text.partition(": ")
    if sep:
        shown_rest = _registered_in_reader_language(rest, AFTER_NAME)
        if shown_rest is not None:
            return f"{name}: {shown_rest}"
    return text
