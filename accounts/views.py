from core.choices import Action
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
from .forms import AccountFilterForm, AccountForm
from .models import Account


class AccountListView(ObjectListView):
    model = Account
    filter_form_class = AccountFilterForm
    orderings = {"created_at": "created_at", "updated_at": "updated_at", "name": "name"}
    select_related = ("owner",)
    row_template = "accounts/_row.html"
    columns = ["name", "grade", "industry", "region", "status", "owner", "created_at"]
    export_fields = [
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
        "owner",
        "created_at",
    ]
    transfer_action = staticmethod(actions.transfer_accounts)


class AccountDetailView(ObjectDetailView):
    model = Account
    template_name = "accounts/detail.html"
    select_related = ("owner", "parent", "created_by")
    followup_field = "account"

    def extra_context(self, account):
        from contacts.models import Contact
        from opportunities.models import Opportunity

        user = self.request.user
        return {
            "parent_visible": account.parent_id
            and Account.objects.visible_to(user, Action.VIEW).filter(pk=account.parent_id).exists(),
            "children": Account.objects.visible_to(user)
            .filter(parent=account)
            .select_related("owner")
            .order_by("name")[:50],
            "contacts": Contact.objects.visible_to(user)
            .filter(account=account)
            .select_related("owner")
            .order_by("name")[:50],
            "opportunities": Opportunity.objects.visible_to(user)
            .filter(account=account)
            .select_related("stage", "owner")
            .order_by("-expected_close_date", "-id")[:50],
            "tags": list(account.tags.all()),
        }


class AccountFormView(ObjectFormView):
    model = Account
    form_class = AccountForm
    template_name = "core/object_form.html"

    @staticmethod
    def create_action(user, form):
        return actions.create_account(user=user, data=form_data(form, exclude={"tags"}), tags=form.tag_names())

    @staticmethod
    def update_action(instance, user, form, version):
        return actions.update_account(
            account=instance,
            user=user,
            data=form_data(form, exclude={"tags"}),
            tags=form.tag_names(),
            expected_version=version,
        )


class AccountDeleteView(ObjectDeleteView):
    model = Account

    @staticmethod
    def delete_action(obj, user):
        return actions.delete_account(account=obj, user=user)


class AccountTransferView(ObjectTransferView):
    model = Account
    transfer_action = staticmethod(actions.transfer_accounts)


class AccountTeamView(ObjectTeamView):
    model = Account
