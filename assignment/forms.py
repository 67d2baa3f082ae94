"""Forms of the settings pages: rules with a row-based condition builder (or JSON), territories,
caps, qualification facts and levels."""

from __future__ import annotations

import json
import re

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.choices import ObjectType
from core.conditions import LIST_OPS, NO_VALUE_OPS, OP_LABELS, OPS_BY_KIND, registry
from core.errors import validation_error_fields
from core.regions import regions

from .choices import Combinator, Distribution, Strategy
from .models import QualificationFact, QualificationLevel

EXTRA_ROWS = 3
ROW_PATH = re.compile(r"^conditions\.(?:all|any)\[(\d+)\]")
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


def field_options(include_facts: bool = True) -> list[dict]:
    """Fields a condition may test, with their operators and allowed values, for the builder."""
    options = []
    for name, spec in registry.for_type(ObjectType.LEAD).items():
        options.append(
            {
                "name": name,
                "label": str(spec.label),
                "kind": spec.kind,
                "ops": sorted(OPS_BY_KIND[spec.kind]),
                "choices": _choice_labels(name, spec.choices),
            }
        )
    if include_facts:
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


def _choice_labels(name: str, values) -> list[tuple[str, str]]:
    if not values:
        return []
    from leads.models import Lead

    try:
        labels = dict(Lead._meta.get_field(name).flatchoices)
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
    """Edits a condition set as field/op/value rows combined with AND or OR, or as JSON.

    Nested groups cannot be shown as rows; such a set opens in the JSON editor."""

    def __init__(self, data=None, *, initial: dict | None = None, prefix: str = "cond"):
        self.prefix = prefix
        self.data = data
        self.errors: list[str] = []
        self.row_errors: dict[int, list[str]] = {}
        self.cleaned: dict | None = None
        initial = initial or {"all": []}
        if data is None:
            flat = self._flat(initial)
            self.mode = "rows" if flat is not None else "json"
            self.combinator, rows = flat if flat is not None else ("all", [])
            self.rows = rows + [{"field": "", "op": "", "value": ""} for _ in range(EXTRA_ROWS)]
            self.json_text = pretty_json(initial)
        else:
            self.mode = "json" if data.get(f"{prefix}-mode") == "json" else "rows"
            self.combinator = data.get(f"{prefix}-combinator") if data.get(f"{prefix}-combinator") == "any" else "all"
            fields = data.getlist(f"{prefix}-field")
            ops = data.getlist(f"{prefix}-op")
            values = data.getlist(f"{prefix}-value")
            self.rows = [
                {
                    "field": f.strip(),
                    "op": (ops[i] if i < len(ops) else "").strip(),
                    "value": values[i] if i < len(values) else "",
                }
                for i, f in enumerate(fields)
            ]
            if self.mode == "rows" and sum(1 for r in self.rows if not r["field"]) < 1:
                self.rows.append({"field": "", "op": "", "value": ""})
            self.json_text = data.get(f"{prefix}-json", "")

    @staticmethod
    def _flat(conditions: dict):
        """(combinator, rows) when the set is one AND or OR group of plain conditions."""
        if not conditions:
            return "all", []
        key = "all" if "all" in conditions else "any" if "any" in conditions else None
        if key is None or len(conditions) != 1:
            return None
        rows = []
        for leaf in conditions[key]:
            if not isinstance(leaf, dict) or "field" not in leaf:
                return None
            value = leaf.get("value", "")
            rows.append(
                {
                    "field": leaf["field"],
                    "op": leaf["op"],
                    "value": ", ".join(str(v) for v in value) if isinstance(value, list) else str(value),
                }
            )
        return key, rows

    def raw(self):
        """The condition set as entered, before validation; row i of the set is row `index[i]` on screen."""
        if self.mode == "json":
            text = (self.json_text or "").strip()
            if not text:
                return {}, []
            try:
                return json.loads(text), []
            except ValueError:
                raise ValidationError({"conditions": [_("Enter valid JSON.")]}) from None
        leaves, index = [], []
        for i, row in enumerate(self.rows):
            if not row["field"]:
                continue
            leaf = {"field": row["field"], "op": row["op"]}
            if row["op"] in LIST_OPS:
                leaf["value"] = [v.strip() for v in re.split(r"[,，、;；\n]", row["value"]) if v.strip()]
            elif row["op"] not in NO_VALUE_OPS:
                leaf["value"] = row["value"].strip()
            leaves.append(leaf)
            index.append(i)
        return ({self.combinator: leaves} if leaves else {}), index

    def apply_error(self, error: ValidationError, index: list[int]) -> None:
        """Show a validation error next to the row it is about, or above the editor."""
        for messages in validation_error_fields(error).values():
            for message in messages:
                match = ROW_PATH.match(message)
                if self.mode == "rows" and match and int(match.group(1)) < len(index):
                    row = index[int(match.group(1))]
                    text = REST_OF_PATH.sub("", message[match.end() :]).strip() or message
                    self.row_errors.setdefault(row, []).append(
                        _("Row %(n)d: %(message)s") % {"n": row + 1, "message": text}
                    )
                else:
                    self.errors.append(message)

    @property
    def all_errors(self) -> list[str]:
        return self.errors + [m for row in sorted(self.row_errors) for m in self.row_errors[row]]

    def rows_with_errors(self) -> list[dict]:
        return [{**row, "errors": self.row_errors.get(i, [])} for i, row in enumerate(self.rows)]


class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
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
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)
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
        _styled(self)


def builder_context(builder: ConditionBuilder, *, include_facts: bool = True) -> dict:
    return {
        "builder": builder,
        "builder_rows": builder.rows_with_errors(),
        "field_options": field_options(include_facts),
        "op_options": op_options(),
        "combinators": Combinator.choices,
    }
