"""Which qualification level a lead reaches, and why: every criterion with ✓ or ✗.

Levels are ordered and build on each other: a lead reaches a level when the criteria of that
level and of every level before it hold (core.conditions.explain shows each criterion)."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist

from core.choices import ObjectType
from core.conditions import explain
from core.regions import regions
from leads.models import Lead

from .choices import OPEN_LEAD_STATUSES, STATUS_RANK
from .models import QualificationFact, QualificationLevel


def active_levels() -> list[QualificationLevel]:
    return list(QualificationLevel.objects.filter(is_active=True).order_by("order", "id"))


def all_facts() -> list[QualificationFact]:
    return list(QualificationFact.objects.order_by("order", "id"))


def _value_label(field: str, value) -> str:
    """Stored comparison values as people read them: choice labels, region names."""
    if value is None:
        return ""
    values = value if isinstance(value, list) else [value]
    if field == "region":
        names = regions().names
        return ", ".join(names.get(str(v), str(v)) for v in values)
    try:
        model_field = Lead._meta.get_field(field)
    except FieldDoesNotExist:  # "region" and custom fields have no model field of that name
        model_field = None
    if model_field is not None and model_field.choices:
        labels = dict(model_field.flatchoices)
        return ", ".join(str(labels.get(v, v)) for v in values)
    return ", ".join(str(v) for v in values)


def label_tree(node: dict, fact_labels: dict[str, str]) -> dict:
    """Put the admin's fact labels and readable values on an explain() tree (in place)."""
    if "children" in node:
        for child in node["children"]:
            label_tree(child, fact_labels)
        return node
    field = node.get("field", "")
    if field.startswith("fact:"):
        node["label"] = fact_labels.get(field[5:], field[5:])
        node["is_fact"] = True
    node["value_label"] = _value_label(field, node.get("value"))
    return node


def assess(lead, *, levels: list[QualificationLevel] | None = None, facts=None) -> dict:
    """The lead's level and, per level, whether its criteria hold and which ones do."""
    levels = active_levels() if levels is None else levels
    facts = all_facts() if facts is None else facts
    fact_labels = {f.code: f.label for f in facts}
    current = lead.facts or {}
    reached = None
    chain = True
    rows = []
    for level in levels:
        tree = label_tree(explain(level.conditions or {"all": []}, lead, ObjectType.LEAD), fact_labels)
        chain = chain and tree["holds"]
        if chain:
            reached = level
        rows.append(
            {
                "id": level.pk,
                "name": level.name,
                "order": level.order,
                "lead_status": level.lead_status,
                "holds": tree["holds"],
                "reached": chain,
                "criteria": tree,
            }
        )
    return {
        "level": None
        if reached is None
        else {"id": reached.pk, "name": reached.name, "lead_status": reached.lead_status},
        "levels": rows,
        "facts": [
            {"code": f.code, "label": f.label, "help": f.help, "value": bool(current.get(f.code))}
            for f in facts
            if f.is_active
        ],
    }


def promoted_status(current_status: str, reached: dict | None) -> str:
    """The status a lead moves on to when it reaches a level; never backwards, never out of closed."""
    if reached is None or not reached.get("lead_status") or current_status not in OPEN_LEAD_STATUSES:
        return current_status
    target = reached["lead_status"]
    return target if STATUS_RANK.get(target, -1) > STATUS_RANK.get(current_status, 99) else current_status
