from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import TideModelForm, cascade_regions
from core.regions import regions
from core.views import FilterForm

from .choices import AccountStatus, AccountType, Grade, Industry
from .models import Account


def region_choices(blank_label="—"):
    return [("", blank_label)] + [(code, name) for code, name in regions().provinces()]


class AccountForm(TideModelForm):
    autocomplete_fields = {"parent": "account"}
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))
    website = forms.URLField(label=_("website"), required=False, assume_scheme="https")

    class Meta:
        model = Account
        fields = [
            "name",
            "short_name",
            "credit_code",
            "industry",
            "grade",
            "account_type",
            "status",
            "parent",
            "province_code",
            "city_code",
            "district_code",
            "address",
            "phone",
            "website",
            "owner",
            "tags",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cascade_regions(self)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(t.name for t in self.instance.tags.all())

    def tag_names(self):
        raw = self.cleaned_data.get("tags") or ""
        return [t.strip() for t in raw.replace("，", ",").split(",") if t.strip()]


class AccountFilterForm(FilterForm):
    takes_user = True
    lookups = {
        "status": "status",
        "grade": "grade",
        "industry": "industry",
        "account_type": "account_type",
        "owner": "owner_id",
        "province_code": "province_code",
        "tag": "tags__name",
    }
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status"))] + AccountStatus.choices
    )
    grade = forms.ChoiceField(label=_("Grade"), required=False, choices=[("", _("Any grade"))] + Grade.choices)
    industry = forms.ChoiceField(
        label=_("Industry"), required=False, choices=[("", _("Any industry"))] + Industry.choices
    )
    account_type = forms.ChoiceField(
        label=_("Type"), required=False, choices=[("", _("Any type"))] + AccountType.choices
    )
    province_code = forms.ChoiceField(label=_("Province"), required=False, choices=[])
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=30)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province_code"].choices = region_choices(_("Any province"))
        self.fields["owner"].choices = owner_filter_choices(user, Account.object_type)


def owner_filter_choices(user, object_type):
    from core.choices import Action
    from core.views import assignable_users

    users = assignable_users(user, object_type, Action.VIEW)
    return [("", _("Any owner"))] + [(u.pk, str(u)) for u in users.order_by("department__path", "username")[:500]]
