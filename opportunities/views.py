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
from .forms import OpportunityFilterForm, OpportunityForm
from .models import Opportunity


class OpportunityListView(ObjectListView):
    model = Opportunity
    filter_form_class = OpportunityFilterForm
    orderings = {
        "created_at": "created_at",
        "updated_at": "updated_at",
        "amount": "amount",
        "expected_close_date": "expected_close_date",
    }
    select_related = ("owner", "account", "stage")
    row_template = "opportunities/_row.html"
    export_fields = [
        "name",
        "account",
        "amount",
        "expected_close_date",
        "stage",
        "status",
        "owner",
        "lost_reason",
        "created_at",
    ]
    transfer_action = staticmethod(actions.transfer_opportunities)

    def summary(self, qs):
        from django.db.models import DecimalField, ExpressionWrapper, F, Sum
        from django.utils.translation import gettext as _

        from core.templatetags.tide import wan

        weighted = ExpressionWrapper(F("amount") * F("stage__probability") / 100, output_field=DecimalField())
        totals = qs.order_by().aggregate(total=Sum("amount"), weighted=Sum(weighted))
        return [
            (_("Total amount"), wan(totals["total"] or 0)),
            (_("Weighted amount"), wan(totals["weighted"] or 0)),
        ]


class OpportunityDetailView(ObjectDetailView):
    model = Opportunity
    template_name = "opportunities/detail.html"
    select_related = ("owner", "account", "stage", "contact")
    followup_field = "opportunity"


class OpportunityFormView(ObjectFormView):
    model = Opportunity
    form_class = OpportunityForm

    @staticmethod
    def create_action(user, form):
        return actions.create_opportunity(user=user, data=form_data(form))

    @staticmethod
    def update_action(instance, user, form, version):
        return actions.update_opportunity(
            opportunity=instance, user=user, data=form_data(form), expected_version=version
        )


class OpportunityDeleteView(ObjectDeleteView):
    model = Opportunity

    @staticmethod
    def delete_action(obj, user):
        return actions.delete_opportunity(opportunity=obj, user=user)


class OpportunityTransferView(ObjectTransferView):
    model = Opportunity
    transfer_action = staticmethod(actions.transfer_opportunities)


class OpportunityTeamView(ObjectTeamView):
    model = Opportunity
