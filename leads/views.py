from core.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectListView,
    ObjectTeamView,
    ObjectTransferView,
    form_data,
)

from . import actions
from .forms import LeadFilterForm, LeadForm
from .models import Lead


class LeadListView(ObjectListView):
    model = Lead
    filter_form_class = LeadFilterForm
    orderings = {"created_at": "created_at", "updated_at": "updated_at"}
    select_related = ("owner",)
    row_template = "leads/_row.html"
    export_fields = [
        "company",
        "contact_name",
        "title",
        "phone",
        "email",
        "industry",
        "province_code",
        "city_code",
        "source",
        "status",
        "invalid_reason",
        "owner",
        "created_at",
    ]
    transfer_action = staticmethod(actions.transfer_leads)


class LeadDetailView(ObjectDetailView):
    model = Lead
    template_name = "leads/detail.html"
    select_related = ("owner",)
    followup_field = "lead"


class LeadFormView(ObjectFormView):
    model = Lead
    form_class = LeadForm

    @staticmethod
    def create_action(user, form):
        return actions.create_lead(user=user, data=form_data(form))

    @staticmethod
    def update_action(instance, user, form, version):
        return actions.update_lead(lead=instance, user=user, data=form_data(form), expected_version=version)


class LeadDeleteView(ObjectDeleteView):
    model = Lead

    @staticmethod
    def delete_action(obj, user):
        return actions.delete_lead(lead=obj, user=user)


class LeadTransferView(ObjectTransferView):
    model = Lead
    transfer_action = staticmethod(actions.transfer_leads)


class LeadTeamView(ObjectTeamView):
    model = Lead
