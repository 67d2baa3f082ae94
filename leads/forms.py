from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import Industry
from accounts.forms import owner_filter_choices, region_choices
from core.forms import TideModelForm, cascade_regions
from core.views import FilterForm
from core.widgets import DateInput

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
        cascade_regions(self)
        if self.instance.pk is None and "owner" in self.fields:
            from assignment.models import AssignmentRule

            if AssignmentRule.objects.filter(is_active=True).exists():
                self.fields["owner"].help_text = _(
                    "Leave empty to let the assignment rules choose; you own it when no rule applies."
                )


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


class ConvertForm(forms.Form):
    """Convert a lead: an account (new or existing), a contact and optionally an opportunity."""

    ACCOUNT_FIELDS = ("name", "industry", "province_code", "city_code", "district_code", "address")
    CONTACT_FIELDS = ("name", "title", "mobile", "phone", "email")
    OPPORTUNITY_FIELDS = ("name", "amount", "expected_close_date", "stage")

    account_mode = forms.ChoiceField(
        label=_("Account"),
        choices=[("new", _("Create a new account")), ("existing", _("Use an existing account"))],
        widget=forms.RadioSelect,
        initial="new",
    )
    account = forms.ModelChoiceField(label=_("Existing account"), queryset=None, required=False)
    account_name = forms.CharField(label=_("Account name"), max_length=200, required=False)
    account_industry = forms.ChoiceField(label=_("Industry"), required=False, choices=[("", "—")] + Industry.choices)
    account_province_code = forms.ChoiceField(label=_("Province"), required=False, choices=[])
    account_city_code = forms.CharField(label=_("City"), max_length=4, required=False)
    account_district_code = forms.CharField(label=_("District"), max_length=6, required=False)
    account_address = forms.CharField(label=_("Address"), max_length=300, required=False)
    contact_name = forms.CharField(label=_("Contact name"), max_length=60, required=False)
    contact_title = forms.CharField(label=_("Job title"), max_length=60, required=False)
    contact_mobile = forms.CharField(label=_("Mobile"), max_length=32, required=False)
    contact_phone = forms.CharField(label=_("Office phone"), max_length=32, required=False)
    contact_email = forms.EmailField(label=_("Email"), required=False)
    create_opportunity = forms.BooleanField(label=_("Also create an opportunity"), required=False)
    opportunity_name = forms.CharField(label=_("Opportunity name"), max_length=200, required=False)
    opportunity_amount = forms.DecimalField(
        label=_("Amount (CNY)"), required=False, min_value=0, max_digits=16, decimal_places=2
    )
    opportunity_expected_close_date = forms.DateField(
        label=_("Expected close date"), required=False, widget=DateInput()
    )
    opportunity_stage = forms.ModelChoiceField(label=_("Stage"), queryset=None, required=False)

    def __init__(self, *args, user=None, lead=None, **kwargs):
        if lead is not None and not kwargs.get("data") and not args:
            kwargs.setdefault("initial", self.initial_for(lead))
        super().__init__(*args, **kwargs)
        from accounts.models import Account
        from core.choices import Action
        from core.widgets import AutocompleteSelect
        from opportunities.choices import OpportunityStatus
        from opportunities.models import Stage

        self.fields["account"].queryset = Account.objects.visible_to(user, Action.VIEW)
        self.fields["account"].widget = AutocompleteSelect("account", queryset=self.fields["account"].queryset)
        self.fields["account_province_code"].choices = region_choices()
        cascade_regions(self, "account_province_code", "account_city_code", "account_district_code")
        stages = Stage.objects.filter(is_active=True, status=OpportunityStatus.OPEN)
        self.fields["opportunity_stage"].queryset = stages
        if not self.is_bound and stages.exists():
            self.fields["opportunity_stage"].initial = stages.order_by("sort_order").first().pk
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.RadioSelect):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            widget.attrs.setdefault("class", css)

    @staticmethod
    def initial_for(lead) -> dict:
        import datetime

        from django.utils import timezone

        from .actions import _split_phone

        phones = _split_phone(lead.phone)
        return {
            "account_mode": "new",
            "account_name": lead.company,
            "account_industry": lead.industry,
            "account_province_code": lead.province_code,
            "account_city_code": lead.city_code,
            "account_district_code": lead.district_code,
            "account_address": lead.address,
            "contact_name": lead.contact_name,
            "contact_title": lead.title,
            "contact_mobile": phones.get("mobile", ""),
            "contact_phone": phones.get("phone", ""),
            "contact_email": lead.email,
            "opportunity_name": lead.company,
            "opportunity_expected_close_date": timezone.localdate() + datetime.timedelta(days=90),
        }

    def clean(self):
        data = super().clean()
        if data.get("account_mode") == "existing" and not data.get("account"):
            self.add_error("account", _("Choose the account."))
        return data

    def parts(self) -> dict:
        """The keyword arguments of convert_lead from the cleaned form."""
        data = self.cleaned_data
        existing = data.get("account_mode") == "existing"
        return {
            "account": data.get("account") if existing else None,
            "account_data": None if existing else {k: data[f"account_{k}"] for k in self.ACCOUNT_FIELDS},
            "contact_data": {k: data[f"contact_{k}"] for k in self.CONTACT_FIELDS},
            "opportunity_data": {k: data[f"opportunity_{k}"] for k in self.OPPORTUNITY_FIELDS}
            if data.get("create_opportunity")
            else None,
        }

    def add_action_errors(self, fields: dict) -> None:
        """`contact.name` from the action is the form's contact_name; the rest goes on top."""
        for key, messages in fields.items():
            name = key.replace(".", "_")
            if key == "account":
                name = "account"
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
