from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import TideModelForm
from org.models import User

from .choices import FORM_FIELDS
from .models import WebForm


def field_label(name: str):
    from leads.models import Lead

    return Lead._meta.get_field(name).verbose_name


class WebFormForm(TideModelForm):
    """The admin side: which lead fields the public page asks for, and which are required."""

    class Meta:
        model = WebForm
        fields = [name for name in WebForm.history_fields if name != "fields"]  # the field list has its own inputs
        widgets = {"intro": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run_as"].queryset = User.objects.filter(is_active=True)
        current = {f["name"]: f for f in (self.instance.fields or [])}
        for name in FORM_FIELDS:
            self.fields[f"ask_{name}"] = forms.BooleanField(
                label=field_label(name), required=False, initial=name in current or name == "company"
            )
            self.fields[f"require_{name}"] = forms.BooleanField(
                label=_("required"),
                required=False,
                initial=bool(current.get(name, {}).get("required")) or name == "company",
            )
            for key in (f"ask_{name}", f"require_{name}"):
                self.fields[key].widget.attrs["class"] = "form-check-input"

    def clean(self):
        cleaned = super().clean()
        self.instance.fields = self.field_specs()  # validated with the rest of the model in _post_clean
        return cleaned

    def field_specs(self) -> list[dict]:
        return [
            {"name": name, "required": bool(self.cleaned_data.get(f"require_{name}"))}
            for name in FORM_FIELDS
            if self.cleaned_data.get(f"ask_{name}") or name == "company"
        ]

    def field_rows(self):
        for name in FORM_FIELDS:
            yield self[f"ask_{name}"], self[f"require_{name}"]


class TextOnly:
    """A field of the public form takes text only: a JSON list, object or number is refused, not turned into text."""

    def to_python(self, value):
        if value is not None and not isinstance(value, str):
            raise forms.ValidationError(_("Enter this value as text."), code="not_text")
        return super().to_python(value)


class TextField(TextOnly, forms.CharField):
    pass


class EmailField(TextOnly, forms.EmailField):
    pass


class ChoiceField(TextOnly, forms.ChoiceField):
    pass


class PublicForm(forms.Form):
    """The visitor's form, built from the web form's field list. `website` is the honeypot."""

    website = forms.CharField(required=False, widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}))
    timer = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, web_form: WebForm, **kwargs):
        super().__init__(*args, **kwargs)
        from core.regions import regions

        for spec in web_form.field_specs():
            name = spec["name"]
            label = field_label(name)
            if name == "notes":
                field = TextField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}))
            elif name == "province_code":
                field = ChoiceField(label=_("Province"), choices=[("", "—")] + regions().provinces())
            elif name == "email":
                field = EmailField(label=label)
            else:
                field = TextField(label=label, max_length=200)
            field.required = bool(spec.get("required"))
            field.widget.attrs.setdefault(
                "class", "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            )
            self.fields[name] = field
