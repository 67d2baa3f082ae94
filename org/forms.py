from django import forms
from django.utils.translation import gettext_lazy as _

from core.choices import Action, ObjectType, Scope
from core.forms import TideModelForm

from .choices import GRANTABLE_TYPES
from .models import Department, Role, User


class DepartmentForm(TideModelForm):
    class Meta:
        model = Department
        fields = ["name", "code", "parent", "head", "sort_order", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Department.objects.visible_to(self.user, Action.VIEW)
        self.fields["head"].queryset = User.objects.filter(is_active=True)


class UserForm(TideModelForm):
    password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("At least 8 characters. Leave empty to keep the current password."),
    )

    class Meta:
        model = User
        fields = ["username", "name", "email", "mobile", "title", "employee_no", "department", "manager", "roles"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.visible_to(self.user, Action.VIEW)
        self.fields["department"].required = True
        self.fields["manager"].queryset = User.objects.filter(is_active=True)
        self.fields["roles"].widget = forms.CheckboxSelectMultiple(choices=self.fields["roles"].choices)
        self.fields["roles"].queryset = Role.objects.filter(is_active=True)
        if self.instance.pk:
            self.fields["username"].disabled = True

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if password:
            from django.contrib.auth.password_validation import validate_password

            validate_password(password, self.instance)
        return password


class HandOverForm(forms.Form):
    hand_over_to = forms.ModelChoiceField(
        label=_("Hand over everything to"),
        queryset=User.objects.none(),
        required=False,
        help_text=_("Accounts, contacts, leads, opportunities and follow-ups move to this user."),
    )

    def __init__(self, *args, departing=None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = User.objects.filter(is_active=True)
        if departing is not None:
            qs = qs.exclude(pk=departing.pk)
        self.fields["hand_over_to"].queryset = qs
        self.fields["hand_over_to"].widget.attrs["class"] = "form-select"


class RoleForm(TideModelForm):
    class Meta:
        model = Role
        fields = ["name", "code", "description", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        existing = {}
        if self.instance.pk:
            existing = {p.object_type: p for p in self.instance.permissions.all()}
        self.grant_rows = []
        for object_type in GRANTABLE_TYPES:
            perm = existing.get(object_type)
            action_fields = []
            for action in Action:
                name = f"grant_{object_type}_{action}"
                self.fields[name] = forms.BooleanField(
                    required=False, initial=bool(perm and action in perm.actions), label=action.label
                )
                self.fields[name].widget.attrs["class"] = "form-check-input"
                action_fields.append(name)
            scope_name = f"scope_{object_type}"
            self.fields[scope_name] = forms.TypedChoiceField(
                choices=Scope.choices, coerce=int, initial=perm.scope if perm else Scope.OWN, label=_("Data scope")
            )
            self.fields[scope_name].widget.attrs["class"] = "form-select form-select-sm"
            self.grant_rows.append((ObjectType(object_type).label, action_fields, scope_name))

    def grants(self) -> dict:
        out = {}
        for object_type in GRANTABLE_TYPES:
            actions = [a for a in Action.values if self.cleaned_data.get(f"grant_{object_type}_{a}")]
            out[object_type] = (actions, self.cleaned_data.get(f"scope_{object_type}", Scope.OWN))
        return out

    def bound_grant_rows(self):
        for label, action_fields, scope_name in self.grant_rows:
            yield label, [self[f] for f in action_fields], self[scope_name]
