"""Rules are data: condition sets stored as JSON, validated when saved, checked by this one evaluator.

A condition set is a tree of groups and leaves:

    {"all": [ {"field": "source", "op": "in", "value": ["web_form", "exhibition"]},
              {"any": [ {"field": "fact:has_project", "op": "is_true"},
                        {"field": "score", "op": "gte", "value": 60} ]} ]}

Groups: ``all`` (AND), ``any`` (OR), ``not``. Leaves name an allow-listed field of the object type and
an operator allowed for that field's kind; nothing else is accepted, so a stored rule can never reach
attributes or code it was not meant to. The same tree evaluates on one record in Python
(``evaluate``/``explain``) and, for set-based work, becomes a Django ``Q`` (``to_q``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .choices import ObjectType

MAX_DEPTH = 6
MAX_NODES = 200

OPS_BY_KIND = {
    "text": {"eq", "ne", "in", "not_in", "contains", "not_contains", "startswith", "is_empty", "not_empty"},
    "choice": {"eq", "ne", "in", "not_in", "is_empty", "not_empty"},
    "number": {"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "is_empty", "not_empty"},
    "date": {"eq", "gt", "gte", "lt", "lte", "is_empty", "not_empty"},
    "bool": {"is_true", "is_false"},
    # a region field matches a code at any level: "44" (province) holds "4403" and "440305"
    "region": {"in", "not_in", "is_empty", "not_empty"},
}
NO_VALUE_OPS = {"is_empty", "not_empty", "is_true", "is_false"}
LIST_OPS = {"in", "not_in"}

OP_LABELS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "startswith": gettext_lazy("starts with"),
    "is_empty": gettext_lazy("is empty"),
    "not_empty": gettext_lazy("is not empty"),
    "gt": gettext_lazy("is greater than"),
    "gte": gettext_lazy("is at least"),
    "lt": gettext_lazy("is less than"),
    "lte": gettext_lazy("is at most"),
    "is_true": gettext_lazy("holds"),
    "is_false": gettext_lazy("does not hold"),
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Any
    kind: str
    choices: tuple = ()
    lookup: str = ""  # ORM path for to_q(); defaults to the name
    whole: bool = False  # a number kept in an integer column: whole, within the column's range

    @property
    def orm(self) -> str:
        return self.lookup or self.name


@dataclass
class Registry:
    fields: dict[str, dict[str, FieldSpec]] = field(default_factory=dict)

    def register(self, object_type: str, *specs: FieldSpec) -> None:
        bucket = self.fields.setdefault(str(object_type), {})
        for spec in specs:
            bucket[spec.name] = spec

    def spec(self, object_type: str, name: str) -> FieldSpec | None:
        if name.startswith("fact:"):
            code = name[5:]
            if code and code.replace("_", "").isalnum():
                return FieldSpec(name=name, label=code, kind="bool", lookup=f"facts__{code}")
            return None
        return self.fields.get(str(object_type), {}).get(name)

    def for_type(self, object_type: str) -> dict[str, FieldSpec]:
        _load_default_fields()
        return dict(self.fields.get(str(object_type), {}))


registry = Registry()
_loaded = False


def _load_default_fields() -> None:
    """Fields of the built-in objects (custom fields will register themselves the same way)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from accounts.choices import AccountStatus, AccountType, Grade, Industry
    from leads.choices import LeadSource, LeadStatus

    registry.register(
        ObjectType.LEAD,
        FieldSpec("source", gettext_lazy("Source"), "choice", tuple(LeadSource.values)),
        FieldSpec("status", gettext_lazy("Status"), "choice", tuple(LeadStatus.values)),
        FieldSpec("industry", gettext_lazy("Industry"), "choice", tuple(Industry.values)),
        FieldSpec("region", gettext_lazy("Region"), "region"),
        FieldSpec("province_code", gettext_lazy("Province"), "text"),
        FieldSpec("city_code", gettext_lazy("City"), "text"),
        FieldSpec("campaign", gettext_lazy("Campaign"), "text"),
        FieldSpec("score", gettext_lazy("Score"), "number", whole=True),
        FieldSpec("company", gettext_lazy("Company"), "text"),
        FieldSpec("title", gettext_lazy("Job title"), "text"),
        FieldSpec("email", gettext_lazy("Email"), "text"),
        FieldSpec("phone", gettext_lazy("Phone"), "text"),
        FieldSpec("created_at", gettext_lazy("Created"), "date"),
    )
    registry.register(
        ObjectType.ACCOUNT,
        FieldSpec("grade", gettext_lazy("Grade"), "choice", tuple(Grade.values)),
        FieldSpec("industry", gettext_lazy("Industry"), "choice", tuple(Industry.values)),
        FieldSpec("account_type", gettext_lazy("Type"), "choice", tuple(AccountType.values)),
        FieldSpec("status", gettext_lazy("Status"), "choice", tuple(AccountStatus.values)),
        FieldSpec("region", gettext_lazy("Region"), "region"),
        FieldSpec("province_code", gettext_lazy("Province"), "text"),
        FieldSpec("city_code", gettext_lazy("City"), "text"),
        FieldSpec("name", gettext_lazy("Name"), "text"),
        FieldSpec("created_at", gettext_lazy("Created"), "date"),
    )


INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def _coerce(spec: FieldSpec, value, path: str):
    """The stored form of one comparison value, or a ValidationError naming where it is wrong."""
    if spec.kind == "number":
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            number = None
        if number is None or not number.is_finite():  # NaN and infinities compare with nothing
            raise ValidationError(_("%(path)s: enter a number.") % {"path": path})
        if spec.whole and (number != number.to_integral_value() or not INT_MIN <= number <= INT_MAX):
            # the database compares an integer column with integers only (PostgreSQL: 32-bit ones)
            raise ValidationError(
                _("%(path)s: enter a whole number from %(min)d to %(max)d.")
                % {"path": path, "min": INT_MIN, "max": INT_MAX}
            )
        return str(int(number)) if spec.whole else str(number)
    if spec.kind == "date":
        try:
            return datetime.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValidationError(_("%(path)s: enter a date as YYYY-MM-DD.") % {"path": path}) from None
    if spec.kind == "choice":
        if str(value) not in spec.choices:
            raise ValidationError(_("%(path)s: “%(value)s” is not a valid choice.") % {"path": path, "value": value})
        return str(value)
    if spec.kind == "region":
        text = str(value)
        if not (text.isdigit() and len(text) in (2, 4, 6)):
            raise ValidationError(_("%(path)s: region codes have 2, 4 or 6 digits.") % {"path": path})
        return text
    if not isinstance(value, str | int | float):
        raise ValidationError(_("%(path)s: enter text.") % {"path": path})
    if "\x00" in str(value):  # PostgreSQL stores no NUL character, in text or in JSON
        raise ValidationError(_("%(path)s: null characters are not allowed.") % {"path": path})
    return str(value)


def validate(conditions, object_type: str) -> dict:
    """Check a condition set against the allow-list and return it normalised; an empty set means 'always'."""
    _load_default_fields()
    if conditions in (None, {}, ""):
        return {"all": []}
    count = 0

    def check(node, path: str, depth: int):
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ValidationError(_("A rule may have at most %(n)d conditions.") % {"n": MAX_NODES})
        if depth > MAX_DEPTH:
            raise ValidationError(_("%(path)s: groups are nested too deeply.") % {"path": path})
        if not isinstance(node, dict):
            raise ValidationError(_("%(path)s: expected a group or a condition.") % {"path": path})
        groups = [k for k in ("all", "any", "not") if k in node]
        if groups:
            if len(node) != 1:
                raise ValidationError(_("%(path)s: a group has exactly one of all, any or not.") % {"path": path})
            key = groups[0]
            if key == "not":
                return {"not": check(node["not"], f"{path}.not", depth + 1)}
            children = node[key]
            if not isinstance(children, list):
                raise ValidationError(_("%(path)s: a group holds a list.") % {"path": path})
            return {key: [check(c, f"{path}.{key}[{i}]", depth + 1) for i, c in enumerate(children)]}
        unknown = set(node) - {"field", "op", "value"}
        if unknown:
            raise ValidationError(
                _("%(path)s: unknown keys %(keys)s.") % {"path": path, "keys": ", ".join(sorted(unknown))}
            )
        spec = registry.spec(object_type, str(node.get("field", "")))
        if spec is None:
            raise ValidationError(
                _("%(path)s: unknown field “%(field)s”.") % {"path": path, "field": node.get("field")}
            )
        op = node.get("op")
        if not isinstance(op, str) or op not in OPS_BY_KIND[spec.kind]:
            raise ValidationError(
                _("%(path)s: “%(op)s” cannot be used with %(field)s.") % {"path": path, "op": op, "field": spec.name}
            )
        leaf = {"field": spec.name, "op": op}
        if op in NO_VALUE_OPS:
            return leaf
        if "value" not in node:
            raise ValidationError(_("%(path)s: a value is required.") % {"path": path})
        value = node["value"]
        if op in LIST_OPS:
            if not isinstance(value, list) or not value:
                raise ValidationError(_("%(path)s: give a non-empty list of values.") % {"path": path})
            leaf["value"] = [_coerce(spec, v, f"{path}.value[{i}]") for i, v in enumerate(value)]
        else:
            leaf["value"] = _coerce(spec, value, f"{path}.value")
        return leaf

    normalised = check(conditions, "conditions", 0)
    if "field" in normalised:  # a single leaf is a group of one
        normalised = {"all": [normalised]}
    return normalised


def _get(record, spec: FieldSpec):
    if spec.name.startswith("fact:"):
        facts = record.get("facts") if isinstance(record, dict) else getattr(record, "facts", None)
        return bool((facts or {}).get(spec.name[5:]))
    if spec.kind == "region":
        get = record.get if isinstance(record, dict) else lambda k: getattr(record, k, "")
        return [c for c in (get("province_code"), get("city_code"), get("district_code")) if c]
    return record.get(spec.name) if isinstance(record, dict) else getattr(record, spec.name, None)


def _compare(spec: FieldSpec, op: str, actual, expected) -> bool:
    if op == "is_true":
        return bool(actual)
    if op == "is_false":
        return not actual
    if spec.kind == "region":
        codes = actual or []
        if op == "is_empty":
            return not codes
        if op == "not_empty":
            return bool(codes)
        hit = any(code in codes for code in expected)  # a record holds its province, city and district codes
        return hit if op == "in" else not hit
    empty = actual is None or actual == ""
    if op == "is_empty":
        return empty
    if op == "not_empty":
        return not empty
    if spec.kind == "number":
        if empty:
            return False
        actual_n = Decimal(str(actual))
        if op in LIST_OPS:
            hit = actual_n in {Decimal(v) for v in expected}
            return hit if op == "in" else not hit
        return _ordered(op, actual_n, Decimal(expected))
    if spec.kind == "date":
        if empty:
            return False
        if isinstance(actual, datetime.datetime):
            from django.utils import timezone

            actual = timezone.localdate(actual) if timezone.is_aware(actual) else actual.date()
        return _ordered(op, actual, datetime.date.fromisoformat(expected))
    text = "" if empty else str(actual)
    if op == "in":
        return text in expected
    if op == "not_in":
        return text not in expected
    if op == "contains":
        return expected.lower() in text.lower()
    if op == "not_contains":
        return expected.lower() not in text.lower()
    if op == "startswith":
        return text.lower().startswith(expected.lower())
    return _ordered(op, text, expected)


def _ordered(op, actual, expected) -> bool:
    return {
        "eq": actual == expected,
        "ne": actual != expected,
        "gt": actual > expected,
        "gte": actual >= expected,
        "lt": actual < expected,
        "lte": actual <= expected,
    }[op]


def evaluate(conditions: dict, record, object_type: str) -> bool:
    """Does `record` (a model instance or a dict of field values) satisfy the stored condition set?"""
    _load_default_fields()
    if "all" in conditions:
        return all(evaluate(c, record, object_type) for c in conditions["all"])
    if "any" in conditions:
        return any(evaluate(c, record, object_type) for c in conditions["any"])
    if "not" in conditions:
        return not evaluate(conditions["not"], record, object_type)
    spec = registry.spec(object_type, conditions["field"])
    if spec is None:  # a field removed since the rule was saved never matches
        return False
    return _compare(spec, conditions["op"], _get(record, spec), conditions.get("value"))


def predicate(conditions: dict, object_type: str):
    """`evaluate` compiled once for a stored set, for checking many records (an import's rows): field
    specs are looked up and list values turned into sets up front. Same answers as `evaluate`."""
    _load_default_fields()
    for key, combine in (("all", all), ("any", any)):
        if key in conditions:
            parts = [predicate(c, object_type) for c in conditions[key]]
            return lambda record: combine(part(record) for part in parts)
    if "not" in conditions:
        inner = predicate(conditions["not"], object_type)
        return lambda record: not inner(record)
    spec = registry.spec(object_type, conditions["field"])
    if spec is None:
        return lambda record: False
    op, expected = conditions["op"], conditions.get("value")
    if spec.kind in ("choice", "text") and op in ("in", "not_in"):
        wanted, negate = frozenset(expected), op == "not_in"

        def member(record):
            actual = _get(record, spec)
            return (("" if actual is None else str(actual)) in wanted) != negate

        return member
    return lambda record: _compare(spec, op, _get(record, spec), expected)


def leaves(conditions):
    """The conditions (field, op, value) of a stored set, however deep its groups."""
    if not isinstance(conditions, dict):
        return
    if "field" in conditions:
        yield conditions
    for key in ("all", "any"):
        for child in conditions.get(key) or ():
            yield from leaves(child)
    if "not" in conditions:
        yield from leaves(conditions["not"])


def fields_of(conditions: dict) -> set[str]:
    """The field names a stored condition set reads, so a caller checking many records can check each
    distinct combination of those values once (an import's rows share a handful of sources and regions)."""
    return {str(leaf["field"]) for leaf in leaves(conditions)}


def explain(conditions: dict, record, object_type: str) -> dict:
    """The tree with `holds` on every node, so a page can show which criteria a record meets."""
    _load_default_fields()
    for key in ("all", "any"):
        if key in conditions:
            children = [explain(c, record, object_type) for c in conditions[key]]
            holds = all(c["holds"] for c in children) if key == "all" else any(c["holds"] for c in children)
            return {"group": key, "children": children, "holds": holds}
    if "not" in conditions:
        child = explain(conditions["not"], record, object_type)
        return {"group": "not", "children": [child], "holds": not child["holds"]}
    spec = registry.spec(object_type, conditions["field"])
    holds = evaluate(conditions, record, object_type)
    return {
        "field": conditions["field"],
        "label": str(spec.label) if spec else conditions["field"],
        "op": conditions["op"],
        "op_label": str(OP_LABELS.get(conditions["op"], conditions["op"])),
        "value": conditions.get("value"),
        "holds": holds,
    }


def to_q(conditions: dict, object_type: str) -> Q:
    """The same condition set as a queryset filter, for set-based work over many records."""
    _load_default_fields()
    if "all" in conditions:
        q = Q()
        for c in conditions["all"]:
            q &= to_q(c, object_type)
        return q
    if "any" in conditions:
        if not conditions["any"]:
            return Q(pk__in=[])
        q = Q(pk__in=[])
        for c in conditions["any"]:
            q |= to_q(c, object_type)
        return q
    if "not" in conditions:
        return ~to_q(conditions["not"], object_type)
    spec = registry.spec(object_type, conditions["field"])
    if spec is None:
        return Q(pk__in=[])
    op, value, path = conditions["op"], conditions.get("value"), spec.orm
    if spec.kind == "bool":
        truth = Q(**{path: True})
        return truth if op == "is_true" else ~truth
    if spec.kind == "region":
        empty = Q(province_code="")
        if op == "is_empty":
            return empty
        if op == "not_empty":
            return ~empty
        q = Q(pk__in=[])
        for code in value:
            column = {2: "province_code", 4: "city_code", 6: "district_code"}[len(code)]
            q |= Q(**{column: code})
        return q if op == "in" else ~q
    if op == "is_empty":
        return (
            Q(**{f"{path}__isnull": True}) | Q(**{path: ""}) if spec.kind == "text" else Q(**{f"{path}__isnull": True})
        )
    if op == "not_empty":
        return ~to_q({"field": spec.name, "op": "is_empty"}, object_type)
    if spec.kind == "date" and path.endswith("_at"):
        path = f"{path}__date"
    lookups = {
        "eq": "",
        "gt": "__gt",
        "gte": "__gte",
        "lt": "__lt",
        "lte": "__lte",
        "in": "__in",
        "contains": "__icontains",
        "startswith": "__istartswith",
    }
    if op == "ne":
        return ~Q(**{path: value})
    if op == "not_in":
        return ~Q(**{f"{path}__in": value})
    if op == "not_contains":
        return ~Q(**{f"{path}__icontains": value})
    return Q(**{f"{path}{lookups[op]}": value})
