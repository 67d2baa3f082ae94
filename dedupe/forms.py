"""Forms of the duplicate pages: the check tool, the rule settings of one object, the merge choices."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType

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
    """The rules of one object, one row per rule: prefix `<kind>-`."""

    def __init__(self, *args, rules=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.rules = list(rules)
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
            if rule.object_type != ObjectType.CONTACT:
                self.fields[f"{prefix}-conditions"] = forms.CharField(
                    label=_("compare only with records where"),
                    required=False,
                    initial=json.dumps(rule.conditions, ensure_ascii=False) if rule.conditions else "",
                    widget=forms.Textarea(
                        attrs={"rows": 2, "placeholder": '{"field": "status", "op": "ne", "value": "invalid"}'}
                    ),
                    help_text=_("Optional: a condition set (JSON) the compared records must meet."),
                )
        for name, field in self.fields.items():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control"
            if isinstance(field.widget, forms.Select):
                css = "form-select"
            field.widget.attrs.setdefault("class", css + " form-control-sm" if css == "form-control" else css)
            field.widget.attrs.setdefault("id", f"id_{name}")

    def rows(self):
        """(rule label, bound fields) for the template, in rule order."""
        for rule in self.rules:
            fields = [self[name] for name in self.fields if name.startswith(f"{rule.kind}-")]
            yield RuleKind(rule.kind).label, rule, {f.name.split("-", 1)[1]: f for f in fields}

    def payload(self) -> list[dict]:
        """Cleaned values in the shape dedupe.actions.save_rules takes; JSON errors become field errors."""
        out = []
        for rule in self.rules:
            prefix = rule.kind
            raw = (self.cleaned_data.get(f"{prefix}-conditions") or "").strip()
            conditions = {}
            if raw:
                try:
                    conditions = json.loads(raw)
                except ValueError:
                    self.add_error(f"{prefix}-conditions", _("Enter valid JSON."))
                    continue
            out.append(
                {
                    "kind": rule.kind,
                    "is_active": bool(self.cleaned_data.get(f"{prefix}-is_active")),
                    "action": self.cleaned_data.get(f"{prefix}-action"),
                    "threshold": self.cleaned_data.get(f"{prefix}-threshold") or rule.threshold,
                    "conditions": conditions,
                }
            )
        return out

    def apply_errors(self, error: ValidationError) -> None:
        """save_rules names errors rules[i].field: show them on this form's fields."""
        index = {f"rules[{i}]": rule.kind for i, rule in enumerate(self.rules)}
        for key, messages in error.message_dict.items():
            position, _dot, name = key.partition(".")
            field = f"{index.get(position, '')}-{name}"
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
