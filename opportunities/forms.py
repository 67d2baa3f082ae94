from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import owner_filter_choices
from core.forms import TideModelForm
from core.views import FilterForm
from core.widgets import DateInput

from .choices import OpportunityStatus
from .models import Opportunity, Stage


class OpportunityForm(TideModelForm):
    autocomplete_fields = {"account": "account", "contact": "contact"}

    class Meta:
        model = Opportunity
        fields = [
            "account",
            "name",
            "amount",
            "expected_close_date",
            "stage",
            "contact",
            "owner",
            "lost_reason",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.filter(is_active=True)


class OpportunityFilterForm(FilterForm):
    takes_user = True
    lookups = {
        "status": "status",
        "stage": "stage_id",
        "owner": "owner_id",
        "account": "account_id",
        "close_after": "expected_close_date__gte",
        "close_before": "expected_close_date__lte",
    }
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status"))] + OpportunityStatus.choices
    )
    stage = forms.TypedChoiceField(label=_("Stage"), required=False, coerce=int, empty_value=None)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    close_after = forms.DateField(label=_("Closes from"), required=False, widget=DateInput())
    close_before = forms.DateField(label=_("Closes until"), required=False, widget=DateInput())
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [("", _("Any stage"))] + [(s.pk, s.name) for s in Stage.objects.all()]
        self.fields["owner"].choices = owner_filter_choices(user, Opportunity.object_type)
