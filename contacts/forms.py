from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import owner_filter_choices
from core.forms import TideModelForm
from core.views import FilterForm

from .choices import Attitude, BuyingRole
from .models import Contact


class ContactForm(TideModelForm):
    autocomplete_fields = {"account": "account"}

    class Meta:
        model = Contact
        fields = [
            "account",
            "name",
            "title",
            "department",
            "mobile",
            "phone",
            "email",
            "wechat",
            "buying_role",
            "attitude",
            "owner",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class ContactFilterForm(FilterForm):
    takes_user = True
    lookups = {"buying_role": "buying_role", "attitude": "attitude", "owner": "owner_id", "account": "account_id"}
    buying_role = forms.ChoiceField(
        label=_("Buying role"), required=False, choices=[("", _("Any role"))] + BuyingRole.choices
    )
    attitude = forms.ChoiceField(
        label=_("Attitude"), required=False, choices=[("", _("Any attitude"))] + Attitude.choices
    )
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_filter_choices(user, Contact.object_type)
