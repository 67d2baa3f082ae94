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
from .forms import ContactFilterForm, ContactForm
from .models import Contact


class ContactListView(ObjectListView):
    model = Contact
    filter_form_class = ContactFilterForm
    orderings = {"created_at": "created_at", "updated_at": "updated_at", "name": "name"}
    select_related = ("owner", "account")
    row_template = "contacts/_row.html"
    export_fields = [
        "name",
        "account",
        "title",
        "department",
        "mobile",
        "phone",
        "email",
        "wechat",
        "buying_role",
        "attitude",
        "owner",
        "created_at",
    ]
    transfer_action = staticmethod(actions.transfer_contacts)


class ContactDetailView(ObjectDetailView):
    model = Contact
    template_name = "contacts/detail.html"
    select_related = ("owner", "account")
    followup_field = "contact"


class ContactFormView(ObjectFormView):
    model = Contact
    form_class = ContactForm

    @staticmethod
    def create_action(user, form):
        return actions.create_contact(user=user, data=form_data(form))

    @staticmethod
    def update_action(instance, user, form, version):
        return actions.update_contact(contact=instance, user=user, data=form_data(form), expected_version=version)


class ContactDeleteView(ObjectDeleteView):
    model = Contact

    @staticmethod
    def delete_action(obj, user):
        return actions.delete_contact(contact=obj, user=user)


class ContactTransferView(ObjectTransferView):
    model = Contact
    transfer_action = staticmethod(actions.transfer_contacts)


class ContactTeamView(ObjectTeamView):
    model = Contact
