from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms import owner_filter_choices
from core.forms import TideModelForm
from core.views import FilterForm

from .choices import FollowUpType
from .models import FollowUp


class FollowUpForm(TideModelForm):
    autocomplete_fields = {"account": "account", "contact": "contact", "lead": "lead", "opportunity": "opportunity"}

    class Meta:
        model = FollowUp
        fields = [
            "kind",
            "occurred_at",
            "content",
            "next_step",
            "next_follow_up_on",
            "account",
            "contact",
            "lead",
            "opportunity",
        ]
        widgets = {"content": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].required = False  # a rep logging a call right after it: now

    def clean_occurred_at(self):
        return self.cleaned_data.get("occurred_at") or timezone.now()


class FollowUpFilterForm(FilterForm):
    takes_user = True
    lookups = {
        "kind": "kind",
        "owner": "owner_id",
        "account": "account_id",
        "contact": "contact_id",
        "lead": "lead_id",
        "opportunity": "opportunity_id",
    }
    kind = forms.ChoiceField(label=_("Type"), required=False, choices=[("", _("Any type"))] + FollowUpType.choices)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)
    contact = forms.IntegerField(required=False, widget=forms.HiddenInput)
    lead = forms.IntegerField(required=False, widget=forms.HiddenInput)
    opportunity = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_filter_choices(user, FollowUp.object_type)

    def apply_search(self, qs, query):
        return qs.filter(content__icontains=query)
