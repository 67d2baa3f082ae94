"""Forms of the duplicate pages: the check tool, the rule settings of one object, the merge choices."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType
from core.conditions import leaves

from .choices import DEDUPE_OBJECTS, SIMILARITY_RULES, MergePick, RuleAction, RuleKind

OBJECT_CHOICES = [(t.value, t.label) for t in DEDUPE_OBJECTS]


class CheckForm(forms.Form):
    """What to look for. `id` checks an existing record (its values, itself left out)."""

    object = forms.ChoiceField(label=_("Object"), choices=OBJECT_CHOICES, initial=ObjectType.LEAD)
    name = forms.CharField(label=_("Name or company"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    mobile = forms.CharField(label=_("Mobile"), max_length=32, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    credit_code = forms.CharField(label=_("Unified social credit code"), max_length=18, required=False)
    account = forms.IntegerField(label=_("Account ID (contacts)"), required=False, min_value=1)
    id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            )

    def clean(self):
        data = super().clean()
        if not self.errors and not any(data.get(k) for k in ("name", "phone", "mobile", "email", "credit_code")):
            raise ValidationError(_("Enter a name, a phone number, an e-mail address or a credit code."))
        return data


class RuleSettingsForm(forms.Form):
    """The rules of one object, one row per rule: prefix `<kind>-`. Which records a rule compares with is
    a condition set, edited in the condition builder (prefix `<kind>-cond`); a post carrying the older
    `<kind>-conditions` JSON field instead is read as the builder's JSON."""

    def __init__(self, data=None, *, rules=(), **kwargs):
        from assignment.forms import ConditionBuilder

        from .service import model_for

        super().__init__(data, **kwargs)
        self.rules = list(rules)
        self.builders: dict[str, ConditionBuilder] = {}
        self.indexes: dict[str, dict] = {}
        for rule in self.rules:
            prefix = rule.kind
            self.fields[f"{prefix}-is_active"] = forms.BooleanField(
                label=_("active"), required=False, initial=rule.is_active
            )
            self.fields[f"{prefix}-action"] = forms.ChoiceField(
                label=_("on a hit"), choices=RuleAction.choices, initial=rule.action
            )
            if rule.kind in SIMILARITY_RULES:
                self.fields[f"{prefix}-threshold"] = forms.IntegerField(
                    label=_("similarity threshold"), min_value=50, max_value=100, initial=rule.threshold
                )
            if rule.target != ObjectType.CONTACT:
                builder_prefix = f"{prefix}-cond"
                self.builders[rule.kind] = ConditionBuilder(
                    self._builder_data(data, prefix, builder_prefix) if data is not None else None,
                    initial=rule.conditions,
                    prefix=builder_prefix,
                    model=model_for(rule.target),
                )
        for name, field in self.fields.items():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control"
            if isinstance(field.widget, forms.Select):
                css = "form-select"
            field.widget.attrs.setdefault("class", css + " form-control-sm" if css == "form-control" else css)
            field.widget.attrs.setdefault("id", f"id_{name}")

    @staticmethod
    def _builder_data(data, prefix: str, builder_prefix: str):
        legacy = f"{prefix}-conditions"
        if f"{builder_prefix}-mode" in data or legacy not in data:
            return data
        data = data.copy()
        data[f"{builder_prefix}-mode"], data[f"{builder_prefix}-json"] = "json", data.get(legacy, "")
        return data

    def rows(self):
        """(rule label, rule, bound fields, its condition builder's context or None), in rule order."""
        from assignment.forms import field_options

        from .service import model_for

        for rule in self.rules:
            fields = [self[name] for name in self.fields if name.startswith(f"{rule.kind}-")]
            builder = self.builders.get(rule.kind)
            conditions = None
            if builder is not None:
                conditions = {
                    "builder": builder,
                    "builder_rows": builder.rows_with_errors(),
                    "field_options": field_options(False, model_for(rule.target)),
                    "count": sum(1 for _leaf in leaves(rule.conditions)),
                    "target": model_for(rule.target)._meta.verbose_name_plural,
                }
            yield RuleKind(rule.kind).label, rule, {f.name.split("-", 1)[1]: f for f in fields}, conditions

    def payload(self) -> list[dict] | None:
        """Cleaned values in the shape dedupe.actions.save_rules takes; None when a condition set could not
        be read (its error is shown in its builder)."""
        out, readable = [], True
        for rule in self.rules:
            conditions = {}
            builder = self.builders.get(rule.kind)
            if builder is not None:
                try:
                    conditions, self.indexes[rule.kind] = builder.raw(keep=rule.conditions)
                except ValidationError as error:
                    builder.apply_error(error, {})
                    readable = False
                    continue
            out.append(
                {
                    "kind": rule.kind,
                    "is_active": bool(self.cleaned_data.get(f"{rule.kind}-is_active")),
                    "action": self.cleaned_data.get(f"{rule.kind}-action"),
                    "threshold": self.cleaned_data.get(f"{rule.kind}-threshold") or rule.threshold,
                    "conditions": conditions,
                }
            )
        return out if readable else None

    def apply_errors(self, error: ValidationError) -> None:
        """save_rules names errors rules[i].field: show them on this form's fields, and a condition set's
        on the row of its builder it is about."""
        index = {f"rules[{i}]": rule.kind for i, rule in enumerate(self.rules)}
        for key, messages in error.message_dict.items():
            position, _dot, name = key.partition(".")
            kind = index.get(position, "")
            if name == "conditions" and kind in self.builders:
                self.builders[kind].apply_error(ValidationError(messages), self.indexes.get(kind, {}))
                continue
            field = f"{kind}-{name}"
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class MergeForm(forms.Form):
    """Which record survives, and per differing field whose value it keeps."""

    def __init__(self, *args, preview=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.preview = [row for row in preview if row["differs"]]
        for row in self.preview:
            self.fields[f"pick_{row['key']}"] = forms.ChoiceField(
                label=row["label"],
                choices=MergePick.choices,
                initial=MergePick.SURVIVOR,
                widget=forms.RadioSelect,
            )

    def picks(self) -> dict[str, str]:
        return {row["key"]: self.cleaned_data[f"pick_{row['key']}"] for row in self.preview}
