from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from core.views import ObjectDeleteView, ObjectDetailView, ObjectFormView, ObjectListView, ObjectTransferView, form_data

from . import actions
from .forms import FollowUpFilterForm, FollowUpForm
from .models import FollowUp


class FollowUpListView(ObjectListView):
    model = FollowUp
    filter_form_class = FollowUpFilterForm
    orderings = {"created_at": "created_at", "occurred_at": "occurred_at"}
    default_ordering = "-occurred_at"
    select_related = ("owner", "account", "contact", "lead", "opportunity")
    row_template = "followups/_row.html"
    export_fields = [
        "kind",
        "occurred_at",
        "account",
        "contact",
        "lead",
        "opportunity",
        "content",
        "next_step",
        "next_follow_up_on",
        "owner",
    ]
    transfer_action = staticmethod(actions.transfer_followups)


class FollowUpDetailView(ObjectDetailView):
    model = FollowUp
    template_name = "followups/detail.html"
    select_related = ("owner", "account", "contact", "lead", "opportunity")


class FollowUpFormView(ObjectFormView):
    model = FollowUp
    form_class = FollowUpForm

    @staticmethod
    def create_action(user, form):
        return actions.create_followup(user=user, data=form_data(form))

    @staticmethod
    def update_action(instance, user, form, version):
        return actions.update_followup(followup=instance, user=user, data=form_data(form), expected_version=version)

    def post(self, request, pk=None):
        response = super().post(request, pk)
        target = request.POST.get("next") or request.GET.get("next")
        if response.status_code == 302 and target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
            return redirect(target)
        return response


class FollowUpDeleteView(ObjectDeleteView):
    model = FollowUp

    @staticmethod
    def delete_action(obj, user):
        return actions.delete_followup(followup=obj, user=user)


class FollowUpTransferView(ObjectTransferView):
    model = FollowUp
    transfer_action = staticmethod(actions.transfer_followups)
