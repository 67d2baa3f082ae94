from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import Industry
from accounts.forms import owner_filter_choices, region_choices
from core.forms import TideModelForm
from core.views import FilterForm

from .choices import LeadSource, LeadStatus
from .models import Lead


class LeadForm(TideModelForm):
    class Meta:
        model = Lead
        fields = [
            "company",
            "contact_name",
            "title",
            "phone",
            "email",
            "industry",
            "province_code",
            "city_code",
            "district_code",
            "address",
            "source",
            "status",
            "invalid_reason",
            "invalid_note",
            "owner",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province_code"].widget = forms.Select(
            choices=region_choices(), attrs={"class": "form-select", "data-region": "province"}
        )
        self.fields["city_code"].widget.attrs.update({"data-region": "city", "placeholder": "4 位代码"})
        self.fields["district_code"].widget.attrs.update({"data-region": "district", "placeholder": "6 位代码"})


class LeadFilterForm(FilterForm):
    takes_user = True
    lookups = {
        "status": "status",
        "source": "source",
        "industry": "industry",
        "owner": "owner_id",
        "province_code": "province_code",
    }
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status"))] + LeadStatus.choices)
    source = forms.ChoiceField(label=_("Source"), required=False, choices=[("", _("Any source"))] + LeadSource.choices)
    industry = forms.ChoiceField(
        label=_("Industry"), required=False, choices=[("", _("Any industry"))] + Industry.choices
    )
    province_code = forms.ChoiceField(label=_("Province"), required=False, choices=[])
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province_code"].choices = region_choices(_("Any province"))
        self.fields["owner"].choices = owner_filter_choices(user, Lead.object_type)
