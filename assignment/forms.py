"""Forms of the settings pages: rules with a row-based condition builder (or JSON), territories,
caps, qualification facts and levels."""

from __future__ import annotations

import json
import re

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from core.choices import ObjectType
from core.conditions import LIST_OPS, NO_VALUE_OPS, OP_LABELS, OPS_BY_KIND, registry
from core.conditions import leaves as leaf_conditions
from core.errors import validation_error_fields
from core.regions import regions

from .choices import Combinator, Distribution, GroupCombinator, Strategy
from .models import QualificationFact, QualificationLevel

EXTRA_ROWS = 3
LIST_SEPARATORS = re.compile(r"[,，、;；\n]")  # between the values of a list typed in one box
MAX_GROUPS = 5  # numbered groups of rows the builder offers
# a condition's path at the start of an error message: conditions.all[2], or conditions.all[1].any[0]
ROW_PATH = re.compile(r"^(conditions\.(?:all|any)\[\d+\](?:\.(?:all|any)\[\d+\])?)")
REST_OF_PATH = re.compile(r"^(?:\.[a-z_]+(?:\[\d+\])?)*[:：]\s*")


def _styled(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select | forms.SelectMultiple):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs.setdefault("class", css)


def field_options(include_facts: bool = True, model=None) -> list[dict]:
    """Fields a condition on `model`'s records (leads unless told) may test, with their operators and
    allowed values, for the builder; qualification facts only for leads."""
    from leads.models import Lead

    model = model or Lead
    options = []
    for name, spec in registry.for_type(model.object_type).items():
        options.append(
            {
                "name": name,
                "label": str(spec.label),
                "kind": spec.kind,
                "ops": sorted(OPS_BY_KIND[spec.kind]),
                "choices": _choice_labels(model, name, spec.choices),
            }
        )
    if include_facts and model is Lead:
        for fact in QualificationFact.objects.filter(is_active=True).order_by("order", "id"):
            options.append(
                {
                    "name": f"fact:{fact.code}",
                    "label": _("Fact: %(label)s") % {"label": fact.label},
                    "kind": "bool",
                    "ops": sorted(OPS_BY_KIND["bool"]),
                    "choices": [],
                }
            )
    return options


def _choice_labels(model, name: str, values) -> list[tuple[str, str]]:
    if not values:
        return []
    try:
        labels = dict(model._meta.get_field(name).flatchoices)
    except FieldDoesNotExist:  # a registered field without a model field shows bare values
        labels = {}
    return [(v, str(labels.get(v, v))) for v in values]


def op_options() -> list[tuple[str, str]]:
    return [(op, str(label)) for op, label in OP_LABELS.items()]


def pretty_json(node, depth: int = 0) -> str:
    """A condition set as JSON with one condition per line, so nested groups stay readable."""
    pad = "  " * depth
    for key in ("all", "any"):
        if isinstance(node, dict) and key in node and len(node) == 1:
            if not node[key]:
                return json.dumps(node)
            inner = ",\n".join("  " * (depth + 1) + pretty_json(child, depth + 1) for child in node[key])
            return f'{{"{key}": [\n{inner}\n{pad}]}}'
    if isinstance(node, dict) and list(node) == ["not"]:
        return f'{{"not": {pretty_json(node["not"], depth)}}}'
    return json.dumps(node, ensure_ascii=False)


class ConditionBuilder:
    """Edits a condition set as field/op/value rows, or as JSON.

    Rows may be put in numbered groups: the rows of a group are combined one way (AND or OR), the groups
    the other or the same way, as in the classic rule "(product fits OR has a project OR technology fits)
    AND (credit good OR scale sound)". A set deeper than that, or whose groups combine their rows in
    different ways, opens in the JSON editor."""

    def __init__(self, data=None, *, initial: dict | None = None, prefix: str = "cond", model=None):
        self.prefix = prefix
        self.model = model  # whose fields the rows test (leads unless told): choice labels are read as codes
        self._codes: dict[str, dict[str, str]] | None = None
        self.data = data
        self.errors: list[str] = []
        self.row_errors: dict[int, list[str]] = {}
        self.cleaned: dict | None = None
        self.group_numbers = list(range(1, MAX_GROUPS + 1))
        self.submitted = True
        initial = initial or {"all": []}
        if data is None:
            found = self._rows_of(initial)
            self.mode = "rows" if found is not None else "json"
            self.combinator, self.outer, rows = found if found is not None else ("all", "all", [])
            self.rows = rows + [{"field": "", "op": "", "value": "", "group": 1} for _ in range(EXTRA_ROWS)]
            self.json_text = pretty_json(initial)
        else:
            # A post without the builder's fields (an older client) leaves the stored set as it is, or sends
            # it as JSON in a plain `conditions` field.
            self.submitted = f"{prefix}-mode" in data or "conditions" in data
            if f"{prefix}-mode" not in data and "conditions" in data:
                data = data.copy()
                data[f"{prefix}-mode"], data[f"{prefix}-json"] = "json", data.get("conditions", "")
            self.mode = "json" if data.get(f"{prefix}-mode") == "json" else "rows"
            self.combinator = "any" if data.get(f"{prefix}-combinator") == "any" else "all"
            self.outer = "any" if data.get(f"{prefix}-outer") == "any" else "all"
            fields = data.getlist(f"{prefix}-field")
            ops = data.getlist(f"{prefix}-op")
            values = data.getlist(f"{prefix}-value")
            groups = data.getlist(f"{prefix}-group")
            self.rows = [
                {
                    "field": f.strip(),
                    "op": (ops[i] if i < len(ops) else "").strip(),
                    "value": values[i] if i < len(values) else "",
                    "group": self._group_number(groups[i] if i < len(groups) else ""),
                }
                for i, f in enumerate(fields)
            ]
            if self.mode == "rows" and sum(1 for r in self.rows if not r["field"]) < 1:
                self.rows.append({"field": "", "op": "", "value": "", "group": 1})
            self.json_text = data.get(f"{prefix}-json", "")

    @staticmethod
    def _group_number(text: str) -> int:
        return int(text) if text.isdecimal() and len(text) <= 2 and 1 <= int(text) <= MAX_GROUPS else 1

    @staticmethod
    def _fits_a_row(leaf: dict) -> bool:
        """Would the value come back unchanged from a row's box? Lists are joined with ", " and split on
        any separator, text is stripped: a value holding a separator or edge spaces stays in JSON."""
        value = leaf.get("value", "")
        for item in value if isinstance(value, list) else [value]:
            text = str(item)
            if text != text.strip() or (isinstance(value, list) and LIST_SEPARATORS.search(text)):
                return False
        return True

    @staticmethod
    def _row(leaf: dict, group: int) -> dict:
        value = leaf.get("value", "")
        return {
            "field": leaf["field"],
            "op": leaf["op"],
            "value": ", ".join(str(v) for v in value) if isinstance(value, list) else str(value),
            "group": group,
        }

    @staticmethod
    def _group(node):
        """(combinator, leaves) of a one-key all/any group, else None."""
        if not isinstance(node, dict) or len(node) != 1:
            return None
        key = next(iter(node))
        if key not in ("all", "any") or not isinstance(node[key], list):
            return None
        return key, node[key]

    @classmethod
    def _rows_of(cls, conditions: dict):
        """(combinator within groups, combinator between groups, rows), or None when rows cannot show it."""
        if not conditions:
            return "all", "all", []
        top = cls._group(conditions)
        if top is None:
            return None
        if not all(cls._fits_a_row(leaf) for leaf in leaf_conditions(conditions)):
            return None
        outer, children = top
        if all(isinstance(c, dict) and "field" in c for c in children):  # one group of conditions
            return outer, "all", [cls._row(leaf, 1) for leaf in children]
        if len(children) > MAX_GROUPS:
            return None
        inner, rows = None, []
        for number, child in enumerate(children, start=1):
            if isinstance(child, dict) and "field" in child:  # a group of one condition
                rows.append(cls._row(child, number))
                continue
            group = cls._group(child)
            if group is None or not group[1] or not all(isinstance(c, dict) and "field" in c for c in group[1]):
                return None  # deeper, or an empty group (which rows would drop, changing what the set means)
            key, leaves = group
            if len(leaves) > 1:
                if inner not in (None, key):
                    return None  # groups combining their rows in different ways
                inner = key
            rows.extend(cls._row(leaf, number) for leaf in leaves)
        return inner or ("any" if outer == "all" else "all"), outer, rows

    def raw(self, *, keep: dict | None = None):
        """The condition set as entered, before validation, and where each of its conditions sits on
        screen: {path of the condition in error messages: row}. `keep`: the stored set, kept when the post
        carried no conditions at all."""
        if not self.submitted:
            return (keep or {}), {}
        if self.mode == "json":
            text = (self.json_text or "").strip()
            if not text:
                return {}, {}
            try:
                return json.loads(text), {}
            except (ValueError, RecursionError):  # RecursionError: nested too deep to read
                raise ValidationError({"conditions": [_("Enter valid JSON.")]}) from None
        groups: dict[int, list[tuple[int, dict]]] = {}
        for i, row in enumerate(self.rows):
            if not row["field"]:
                continue
            leaf = {"field": row["field"], "op": row["op"]}
            if row["op"] in LIST_OPS:
                values = [v.strip() for v in LIST_SEPARATORS.split(row["value"]) if v.strip()]
                leaf["value"] = [self._code(row["field"], v) for v in values]
            elif row["op"] not in NO_VALUE_OPS:
                leaf["value"] = self._code(row["field"], row["value"].strip())
            groups.setdefault(row.get("group", 1), []).append((i, leaf))
        if not groups:
            return {}, {}
        inner, index = self.combinator, {}
        if len(groups) == 1:
            (members,) = groups.values()
            for at, (row, _leaf) in enumerate(members):
                index[f"conditions.{inner}[{at}]"] = row
            return {inner: [leaf for _row, leaf in members]}, index
        children = []
        for number, (_n, members) in enumerate(sorted(groups.items())):
            children.append({inner: [leaf for _row, leaf in members]})
            for at, (row, _leaf) in enumerate(members):
                index[f"conditions.{self.outer}[{number}].{inner}[{at}]"] = row
        return {self.outer: children}, index

    def _code(self, field: str, text: str) -> str:
        """A choice typed as its label (官网, Website) is its code (website): rows show labels, rules store codes."""
        if self._codes is None:
            from django.utils import translation

            from leads.models import Lead

            model = self.model or Lead
            self._codes = {}
            for language in dict.fromkeys((translation.get_language() or "en", "en", "zh-hans")):
                with translation.override(language):
                    for name, spec in registry.for_type(model.object_type).items():
                        for code, label in _choice_labels(model, name, spec.choices):
                            self._codes.setdefault(name, {})[label.casefold()] = code
        return self._codes.get(field, {}).get(text.casefold(), text)

    def apply_error(self, error: ValidationError, index: dict[str, int]) -> None:
        """Show a validation error next to the row it is about, or above the editor."""
        for messages in validation_error_fields(error).values():
            for message in messages:
                match = ROW_PATH.match(message) if self.mode == "rows" else None
                row = index.get(match.group(1)) if match else None
                if row is None:
                    self.errors.append(message)
                    continue
                text = REST_OF_PATH.sub("", message[match.end() :]).strip() or message
                self.row_errors.setdefault(row, []).append(
                    _("Row %(n)d: %(message)s") % {"n": row + 1, "message": text}
                )

    @property
    def all_errors(self) -> list[str]:
        return self.errors + [m for row in sorted(self.row_errors) for m in self.row_errors[row]]

    def rows_with_errors(self) -> list[dict]:
        return [{**row, "errors": self.row_errors.get(i, [])} for i, row in enumerate(self.rows)]


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    is_active = forms.BooleanField(label=pgettext_lazy("setting switched on", "Active"), required=False, initial=True)
    strategy = forms.ChoiceField(label=gettext_lazy("Strategy"), choices=Strategy.choices)
    pool = forms.ModelChoiceField(label=gettext_lazy("Public pool"), queryset=None, required=False)
    max_open_leads = forms.IntegerField(
        label=gettext_lazy("Cap of open leads per user"),
        min_value=0,
        required=False,
        help_text=gettext_lazy("Users holding this many open leads are skipped. Empty: no cap from this rule."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from pools.models import Pool

        self.fields["pool"].queryset = Pool.objects.filter(object_type=ObjectType.LEAD, is_active=True)
        _styled(self)


class TerritoryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"),
        queryset=None,
        required=False,
        help_text=gettext_lazy("Its active members (and those of its sub-departments) share the leads."),
    )
    distribution = forms.ChoiceField(label=gettext_lazy("Sharing"), choices=Distribution.choices)
    is_active = forms.BooleanField(label=pgettext_lazy("setting switched on", "Active"), required=False, initial=True)
    regions = forms.MultipleChoiceField(
        label=gettext_lazy("Provinces and cities"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 14}),
        help_text=gettext_lazy("Hold Ctrl (⌘ on a Mac) to choose several."),
    )
    districts = forms.CharField(
        label=gettext_lazy("District codes"),
        required=False,
        max_length=2000,
        help_text=gettext_lazy("6-digit district codes, separated by commas."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from org.models import Department

        self.fields["department"].queryset = Department.objects.order_by("path")
        data = regions()
        groups = []
        for code, name in data.provinces():
            options = [(code, _("%(province)s (whole province)") % {"province": name})]
            options += [(c, n) for c, n in data.children.get(code, []) if n not in ("市辖区", "县")]
            groups.append((name, options))
        self.fields["regions"].choices = groups
        _styled(self)

    def codes(self) -> list[str]:
        codes = list(self.cleaned_data.get("regions") or [])
        codes += [c.strip() for c in re.split(r"[,，、;；\s]+", self.cleaned_data.get("districts") or "") if c.strip()]
        return codes


class LimitForm(forms.Form):
    user = forms.ModelChoiceField(label=gettext_lazy("User"), queryset=None)
    max_open_leads = forms.IntegerField(label=gettext_lazy("Cap of open leads"), min_value=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from org.models import User

        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("department__path", "username")
        _styled(self)


class FactForm(forms.ModelForm):
    class Meta:
        model = QualificationFact
        fields = ["code", "label", "help", "order", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("The code cannot change: stored facts and criteria refer to it.")
        self.fields["order"].required = False
        self.fields["order"].max_value = 1_000_000
        self.fields["order"].validators.append(MaxValueValidator(1_000_000))
        _styled(self)

    def validate_unique(self):
        """Uniqueness is checked by the action, with the same message for pages and the API."""


class LevelForm(forms.ModelForm):
    class Meta:
        model = QualificationLevel
        fields = ["name", "order", "lead_status", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["order"].required = False
        self.fields["order"].max_value = 1_000_000
        self.fields["order"].validators.append(MaxValueValidator(1_000_000))
        _styled(self)


def builder_context(builder: ConditionBuilder, *, include_facts: bool = True, model=None) -> dict:
    return {
        "builder": builder,
        "builder_rows": builder.rows_with_errors(),
        "field_options": field_options(include_facts, model),
        "op_options": op_options(),
        "combinators": Combinator.choices,
        "group_combinators": GroupCombinator.choices,
    }
