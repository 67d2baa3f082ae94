"""Keeps the search tokens of accounts, contacts, leads and opportunities up to date (derived data)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from core.choices import ObjectType

from .models import SearchEntry
from .tokens import document

# The fields whose text is indexed as names (characters, pinyin, initials); phones and e-mails are not
# names. A public pool is searched by these alone (search.backends.filter_matching_names).
NAME_FIELDS = {ObjectType.LEAD: ("company", "contact_name"), ObjectType.ACCOUNT: ("name", "short_name")}


def _account(a):
    names = [getattr(a, field) for field in NAME_FIELDS[ObjectType.ACCOUNT]]
    return document(ObjectType.ACCOUNT, names=names, phones=[a.phone], words=[a.credit_code])


def _contact(c):
    return document(ObjectType.CONTACT, names=[c.name], phones=[c.mobile, c.phone], words=[c.email, c.wechat])


def lead_document(company: str, contact_name: str, phone: str, email: str) -> str:
    """A lead's tokens from its values alone (an import computes them in a helper process); its names
    are NAME_FIELDS[lead]."""
    return document(ObjectType.LEAD, names=[company, contact_name], phones=[phone], words=[email])


def _lead(lead):
    return lead_document(lead.company, lead.contact_name, lead.phone, lead.email)


def _opportunity(o):
    return document(ObjectType.OPPORTUNITY, names=[o.name])


BUILDERS = {
    ObjectType.ACCOUNT: _account,
    ObjectType.CONTACT: _contact,
    ObjectType.LEAD: _lead,
    ObjectType.OPPORTUNITY: _opportunity,
}


def index_record(record) -> None:
    builder = BUILDERS.get(record.object_type)
    if builder is None:
        return
    if record.deleted_at is not None:
        SearchEntry.objects.filter(object_type=record.object_type, object_id=record.pk).delete()
        return
    tokens = builder(record)
    updated = SearchEntry.objects.filter(object_type=record.object_type, object_id=record.pk).update(tokens=tokens)
    if not updated:
        SearchEntry.objects.create(object_type=record.object_type, object_id=record.pk, tokens=tokens)


def bulk_index(records: Iterable, batch_size: int = 5000) -> int:
    """Index freshly created records in bulk (demo data, imports). Returns how many were indexed."""
    from core.bulk import insert_rows

    batch: list[tuple] = []
    count = 0
    columns = ("object_type", "object_id", "tokens")
    with transaction.atomic():
        for record in records:
            builder = BUILDERS[record.object_type]
            batch.append((str(record.object_type), record.pk, builder(record)))
            if len(batch) >= batch_size:
                insert_rows(SearchEntry, columns, batch)
                count += len(batch)
                batch = []
        if batch:
            insert_rows(SearchEntry, columns, batch)
            count += len(batch)
    return count


def replace_documents(object_type: str, ids: list[int], documents: list[tuple[int, str]]) -> int:
    """Rebuild the entries of `ids` from (pk, tokens) documents of those still alive: delete, then insert
    in bulk. Safe to repeat, which is what a resumed import needs."""
    from core.bulk import insert_rows

    for start in range(0, len(ids), 5000):
        SearchEntry.objects.filter(object_type=object_type, object_id__in=ids[start : start + 5000]).delete()
    kind = str(object_type)
    insert_rows(SearchEntry, ("object_type", "object_id", "tokens"), [(kind, pk, t) for pk, t in documents], ready=True)
    return len(documents)
