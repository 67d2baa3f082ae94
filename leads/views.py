from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from core import actions as core_actions
from core import hooks
from core.choices import Action, ObjectType
from core.errors import DomainError, NotFoundError, validation_error_fields
from core.ids import parse_id, parse_ids
from core.permissions import can
from core.views import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectFormView,
    ObjectListView,
    ObjectTeamView,
    ObjectTransferView,
    form_data,
)
from dedupe.service import DuplicateError

from . import actions
from .choices import LeadStatus
from .forms import ConvertForm, LeadFilterForm, LeadForm
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
    template_name = "leads/list.html"


class LeadDetailView(ObjectDetailView):
    model = Lead
    template_name = "leads/detail.html"
    select_related = ("owner", "owner__department", "converted_account", "converted_contact", "converted_opportunity")
    followup_field = "lead"

    def extra_context(self, obj) -> dict:
        user = self.request.user
        can_edit = Lead.objects.visible_to(user, Action.EDIT).filter(pk=obj.pk).exists()
        converted = []
        for label, record in (
            (_("Account"), obj.converted_account),
            (_("Contact"), obj.converted_contact),
            (_("Opportunity"), obj.converted_opportunity),
        ):
            if record is not None:  # what the lead became; a link only where the user may open it
                visible = type(record).objects.visible_to(user, Action.VIEW).filter(pk=record.pk).exists()
                converted.append((label, record, visible))
        return {
            "converted": converted,
            "qualification": actions.lead_qualification(lead=obj),
            "can_tick_facts": can_edit,
            "can_convert": can_edit and _may_convert(user, obj),
        }


def _may_convert(user, lead) -> bool:
    """Open leads only; the user must be able to create the contact and find or create the account."""
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.INVALID) or lead.converted_at:
        return False
    return can(user, ObjectType.CONTACT, Action.CREATE) and (
        can(user, ObjectType.ACCOUNT, Action.CREATE) or can(user, ObjectType.ACCOUNT, Action.VIEW)
    )


def _editable_lead(user, pk) -> Lead:
    """The lead if the user may edit it: 404 when he cannot see it, 403 when he may only look."""
    try:
        lead = core_actions.get_for(Lead, user, Action.VIEW, pk)
    except NotFoundError:
        raise Http404 from None
    if not Lead.objects.visible_to(user, Action.EDIT).filter(pk=lead.pk).exists():
        raise PermissionDenied
    return lead


class LeadFactsView(LoginRequiredMixin, View):
    """Tick the qualification facts on the lead page; unticked boxes are facts that do not hold."""

    def post(self, request, pk):
        from assignment.qualification import all_facts

        lead = _editable_lead(request.user, pk)
        ticked = set(request.POST.getlist("fact"))
        facts = {f.code: f.code in ticked for f in all_facts() if f.is_active}
        try:
            saved = actions.set_lead_facts(
                lead=lead, user=request.user, facts=facts, expected_version=request.POST.get("version") or None
            )
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(request, m, extra_tags="qualification")
        except DomainError as error:
            messages.error(request, error.message, extra_tags="qualification")
        else:
            if saved.status != lead.status:
                messages.success(
                    request,
                    _("Facts saved; the lead is now %(status)s.") % {"status": saved.get_status_display()},
                    extra_tags="qualification",
                )
            else:
                messages.success(request, _("Facts saved."), extra_tags="qualification")
        # back at the panel (on a phone it is far down the page), its outcome repeated there
        return redirect(f"{lead.get_absolute_url()}#qualification")


class LeadConvertView(LoginRequiredMixin, View):
    """Convert a lead into an account, a contact and optionally an opportunity, in one step."""

    template_name = "leads/convert.html"

    def lead(self, pk):
        lead = _editable_lead(self.request.user, pk)
        if lead.status == LeadStatus.CONVERTED or lead.converted_at:
            messages.info(self.request, _("This lead has already been converted."))
            return lead, redirect(lead.get_absolute_url())
        if not _may_convert(self.request.user, lead):
            raise PermissionDenied
        return lead, None

    def render(self, form, lead, duplicates=None):
        user = self.request.user
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "object": lead,
                "can_create_account": can(user, ObjectType.ACCOUNT, Action.CREATE),
                "can_create_opportunity": can(user, ObjectType.OPPORTUNITY, Action.CREATE),
                # accounts the duplicate check finds for the lead: convert into one of them instead
                "account_candidates": actions.account_candidates(lead=lead, user=user),
                # the save check stopped the conversion: what it found, and the confirmation a warning asks for
                "duplicates": getattr(duplicates, "candidates", None),
                "duplicate_code": getattr(duplicates, "code", ""),
            },
        )

    def get(self, request, pk):
        lead, done = self.lead(pk)
        if done:
            return done
        form = ConvertForm(user=request.user, lead=lead)
        chosen = parse_id(request.GET.get("account"))
        if chosen is not None and form.fields["account"].queryset.filter(pk=chosen).exists():  # "Use this account"
            form.initial.update(account_mode="existing", account=chosen)
        return self.render(form, lead)

    def post(self, request, pk):
        lead, done = self.lead(pk)
        if done:
            return done
        form = ConvertForm(data=request.POST, user=request.user, lead=lead)
        if form.is_valid():
            try:
                with hooks.check_options(**hooks.options_from_request(request)):
                    converted = actions.convert_lead(lead=lead, user=request.user, **form.parts())
            except DuplicateError as error:
                return self.render(form, lead, duplicates=error)
            except ValidationError as error:
                form.add_action_errors(validation_error_fields(error))
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("Lead converted into %(account)s and %(contact)s.")
                    % {"account": converted.converted_account, "contact": converted.converted_contact},
                )
                return redirect(converted.get_absolute_url())
        return self.render(form, lead)


class LeadAssignView(LoginRequiredMixin, View):
    """The list page's bulk action: run the assignment rules again on the selected leads."""

    def post(self, request):
        from assignment.actions import rerun_assignment

        ids = parse_ids(request.POST.getlist("ids"))
        back = f"{reverse('leads:list')}?{request.POST.get('query', '')}"
        if not ids:
            messages.warning(request, _("Select the leads first."))
            return HttpResponseRedirect(back)
        try:
            result = rerun_assignment(ids=ids, user=request.user)
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(request, m)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            text = _("Assignment rules run again: %(changed)d lead(s) moved, %(unchanged)d unchanged.") % result
            if result["skipped"]:
                text += " " + _("%(skipped)d closed lead(s) left alone.") % result
            messages.success(request, text)
        return HttpResponseRedirect(back)


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
