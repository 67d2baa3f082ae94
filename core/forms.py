from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .choices import Action
from .ids import parse_id
from .widgets import AutocompleteSelect, DateInput, DateTimeInput


class TideModelForm(forms.ModelForm):
    """ModelForm that knows the user: owner choices and linked records follow the permission point."""

    autocomplete_fields: dict[str, str] = {}  # field → object type

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.DateInput) and not isinstance(widget, DateInput):
                field.widget = DateInput(attrs=widget.attrs)
            if isinstance(widget, forms.DateTimeInput) and not isinstance(widget, DateTimeInput):
                field.widget = DateTimeInput(attrs=widget.attrs)
                field.input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
            if name in self.autocomplete_fields:
                related = field.queryset.model
                field.queryset = related.objects.visible_to(user, Action.VIEW)
                field.widget = AutocompleteSelect(self.autocomplete_fields[name], queryset=field.queryset)
        if "owner" in self.fields and user is not None:
            from .views import assignable_users

            action = Action.CREATE if self.instance.pk is None else Action.TRANSFER
            owners = assignable_users(user, self._meta.model.object_type, action)
            if self.instance.pk and self.instance.owner_id:
                owners = owners | get_user_model().objects.filter(pk=self.instance.owner_id)
            self.fields["owner"].queryset = owners.distinct()
            self.fields["owner"].required = False
            self.fields["owner"].help_text = _("Leave empty to own it yourself.") if self.instance.pk is None else ""
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select | forms.SelectMultiple) else "form-control"
            if isinstance(field.widget, forms.CheckboxInput):
                css = "form-check-input"
            field.widget.attrs.setdefault("class", css)

    def clean_owner(self):
        owner = self.cleaned_data.get("owner")
        if owner is None and self.instance.pk:
            return self.instance.owner
        return owner


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Several records by id: a value no record can have is an invalid choice, not a database error (the
    `pk IN (…)` lookup that checks the values fails on ids beyond a database key)."""

    def _check_values(self, value):
        if (self.to_field_name or "pk") == "pk":
            for pk in value:
                if parse_id(pk) is None:
                    raise forms.ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                    )
        return super()._check_values(value)


def cascade_regions(form, province: str = "province_code", city: str = "city_code", district: str = "district_code"):
    """Province, city and district as three pickers, each filled from the one above it (by htmx, from
    core.pages.region_options) instead of code boxes: a rep on a phone picks 广东省 → 深圳市 → 南山区."""
    from django.urls import reverse

    from .regions import regions

    data = regions()

    def current(name):
        if form.is_bound:
            return form.data.get(form.add_prefix(name), "") or ""
        value = form.initial.get(name)
        if value is None and form.fields[name].initial is not None:
            value = form.fields[name].initial
        if value is None:
            value = getattr(getattr(form, "instance", None), name, "")
        return value or ""

    ids = {name: f"id_{form.add_prefix(name)}" for name in (province, city, district)}
    blank = [("", "—")]
    form.fields[province].widget = forms.Select(
        choices=blank + data.provinces(),
        attrs={
            "class": "form-select",
            "data-region": "province",
            "hx-get": reverse("core:region_options", args=["cities"]) + f"?districts={ids[district]}",
            "hx-target": f"#{ids[city]}",
            "hx-trigger": "change",
        },
    )
    form.fields[city].widget = forms.Select(
        choices=blank + data.options(current(province)),
        attrs={
            "class": "form-select",
            "data-region": "city",
            "hx-get": reverse("core:region_options", args=["districts"]),
            "hx-target": f"#{ids[district]}",
            "hx-trigger": "change",
        },
    )
    form.fields[district].widget = forms.Select(
        choices=blank + data.options(current(city)), attrs={"class": "form-select", "data-region": "district"}
    )
