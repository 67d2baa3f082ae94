"""A converted lead's history on the pages of what it became: the story before the conversion moves along
with the account, the contact and the opportunity, for readers who may see the lead (the lead keeps it)."""

from __future__ import annotations

from core import history
from core.choices import Action, ObjectType

from .models import Lead

CONVERTED_INTO = {
    ObjectType.ACCOUNT: "converted_account",
    ObjectType.CONTACT: "converted_contact",
    ObjectType.OPPORTUNITY: "converted_opportunity",
}


def converted_lead_entries(instance, reader, limit: int) -> list:
    field = CONVERTED_INTO.get(getattr(instance, "object_type", None))
    if field is None or not instance.pk:
        return []
    entries = []
    for lead in Lead.objects.visible_to(reader, Action.VIEW).filter(**{field: instance.pk})[:5]:
        for entry in history.entries_for(lead, limit):
            entry.from_record = lead
            entries.append(entry)
    return entries
