"""Pages of the duplicate check: the check tool, the rule settings, merging and the merge history.

Views stay thin: reads go through visible_to / get_for, changes through dedupe.actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from assignment.choices import Combinator, GroupCombinator
from assignment.forms import op_options
from core import actions as core_actions
from core.choices import Action, ObjectType
from core.errors import DomainError, NotFoundError, PermissionDeniedError
from core.ids import parse_id, parse_ids
from core.keyset import keyset_page
from core.permissions import can
from core.views import apply_errors
from org.permissions import is_admin

from . import actions, service
from .choices import DEDUPE_OBJECTS
from .forms import CheckForm, MergeForm, RuleSettingsForm

PAGE_SIZE = 25


def _object_type(value) -> str:
    if value not in DEDUPE_OBJECTS:
        raise Http404
    return value


def page(request, template: str, context: dict):
    """render() with what every duplicate page needs (whether to show the settings tab)."""
    return render(request, template, {"is_dedupe_admin": is_admin(request.user), **context})


def _may_probe(user, object_type: str) -> bool:
    return can(user, object_type, Action.VIEW) or can(user, object_type, Action.CREATE)


class CheckView(LoginRequiredMixin, View):
    """Look for duplicates of typed values, or of an existing record (?object=lead&id=5)."""

    def get(self, request):
        user = request.user
        record = None
        data = request.GET.copy() if request.GET else None
        if data and data.get("id"):
            object_type = _object_type(data.get("object"))
            try:
                record = core_actions.get_for(service.model_for(object_type), user, Action.VIEW, data.get("id"))
            except NotFoundError:
                raise Http404 from None
            probe = service.Probe.of(record)
            data.update(
                {
                    "name": probe.name,
                    "phone": probe.phones.get("phone", ""),
                    "mobile": probe.phones.get("mobile", ""),
                    "email": probe.email,
                    "credit_code": probe.credit_code,
                    "account": probe.account_id or "",
                }
            )
        form = CheckForm(data)
        context = {"form": form, "record": record, "candidates": None}
        if data is not None and form.is_valid():
            object_type = form.cleaned_data["object"]
            if not _may_probe(user, object_type):
                raise PermissionDenied
            probe = service.Probe.build(
                object_type,
                name=form.cleaned_data["name"],
                phone=form.cleaned_data["phone"],
                mobile=form.cleaned_data["mobile"],
                email=form.cleaned_data["email"],
                credit_code=form.cleaned_data["credit_code"],
                account_id=form.cleaned_data["account"],
                exclude_id=record.pk if record else None,
            )
            hits = service.find_duplicates(probe, service.rules_for(object_type), limit=25)
            candidates = service.present(hits, user)
            context.update(
                candidates=candidates,
                decision=service.decision_of(hits),
                object_type=object_type,
                mergeable=[c for c in candidates if c["visible"] and c["object"] == object_type],
            )
        return page(request, "dedupe/check.html", context)


class RulesView(LoginRequiredMixin, View):
    """Administrators choose, per object, which rules apply and what a hit does."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not is_admin(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render_page(self, request, object_type, form):
        from core.models import ChangeLog

        tabs = [(t.value, t.label) for t in DEDUPE_OBJECTS]
        changes = ChangeLog.objects.filter(object_type=actions.RULE_HISTORY_TYPE).select_related("actor")[:10]
        context = {
            "form": form,
            "object_type": object_type,
            "tabs": tabs,
            "changes": changes,
            "op_options": op_options(),
            "combinators": Combinator.choices,
            "group_combinators": GroupCombinator.choices,
        }
        return page(request, "dedupe/rules.html", context)

    def get(self, request):
        object_type = _object_type(request.GET.get("object", ObjectType.LEAD))
        return self.render_page(request, object_type, RuleSettingsForm(rules=service.rules_for(object_type)))

    def post(self, request):
        object_type = _object_type(request.POST.get("object"))
        form = RuleSettingsForm(request.POST, rules=service.rules_for(object_type))
        if form.is_valid():
            payload = form.payload()
            if payload is not None:
                try:
                    actions.save_rules(user=request.user, object_type=object_type, rules=payload)
                except ValidationError as error:
                    form.apply_errors(error)
                else:
                    messages.success(request, _("Duplicate rules saved."))
                    return redirect(f"{request.path}?object={object_type}")
        return self.render_page(request, object_type, form)


class MergeView(LoginRequiredMixin, View):
    """Pick the surviving record and, field by field, the values it keeps."""

    def pair(self, request, params):
        object_type = _object_type(params.get("object"))
        ids = parse_ids(params.getlist("ids"))
        survivor_id, loser_id = parse_id(params.get("survivor")), parse_id(params.get("loser"))
        if len(ids) == 2 and not (params.get("survivor") and params.get("loser")):
            survivor_id, loser_id = sorted(ids)  # the older record survives unless the user swaps them
        if survivor_id is None or loser_id is None:
            raise Http404
        try:
            survivor, loser = actions.load_pair(
                object_type=object_type, user=request.user, survivor_id=survivor_id, loser_id=loser_id
            )
        except NotFoundError:
            raise Http404 from None
        except PermissionDeniedError as error:
            raise PermissionDenied(error.message) from None
        except ValidationError:
            raise Http404 from None
        return object_type, survivor, loser

    def render_page(self, request, object_type, survivor, loser, form):
        preview = actions.merge_preview(object_type=object_type, survivor=survivor, loser=loser)
        refusal = actions.merge_refusal(object_type=object_type, survivor=survivor, loser=loser)
        return page(
            request,
            "dedupe/merge.html",
            {
                "object_type": object_type,
                "object_label": ObjectType(object_type).label,
                "survivor": survivor,
                "loser": loser,
                "preview": preview,
                "form": form,
                "refusal": refusal.message if refusal is not None else "",
            },
        )

    def get(self, request):
        object_type, survivor, loser = self.pair(request, request.GET)
        preview = actions.merge_preview(object_type=object_type, survivor=survivor, loser=loser)
        return self.render_page(request, object_type, survivor, loser, MergeForm(preview=preview))

    def post(self, request):
        object_type, survivor, loser = self.pair(request, request.POST)
        preview = actions.merge_preview(object_type=object_type, survivor=survivor, loser=loser)
        form = MergeForm(request.POST, preview=preview)
        if form.is_valid():
            try:
                record = actions.merge_records(
                    object_type=object_type,
                    user=request.user,
                    survivor_id=survivor.pk,
                    loser_id=loser.pk,
                    picks=form.picks(),
                )
            except ValidationError as error:
                apply_errors(form, error)
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("“%(loser)s” was merged into “%(survivor)s”.")
                    % {"loser": record.loser_repr, "survivor": record.survivor_repr},
                )
                return redirect(survivor.get_absolute_url())
        return self.render_page(request, object_type, survivor, loser, form)


class MergeListView(LoginRequiredMixin, View):
    def get(self, request):
        qs = actions.visible_merges(request.user)
        object_type = request.GET.get("object")
        if object_type in DEDUPE_OBJECTS:
            qs = qs.filter(object_type=object_type)
        try:
            rows, next_cursor = keyset_page(
                qs, field="at", descending=True, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
            )
        except ValidationError:
            rows, next_cursor = keyset_page(qs, field="at", descending=True, cursor=None, limit=PAGE_SIZE)
        params = request.GET.copy()
        params["cursor"] = next_cursor or ""
        return page(
            request,
            "dedupe/merges.html",
            {
                "rows": rows,
                "next_url": f"?{params.urlencode()}" if next_cursor else None,
                "object_type": object_type,
                "tabs": [(t.value, t.label) for t in DEDUPE_OBJECTS],
            },
        )


class MergeDetailView(LoginRequiredMixin, View):
    def get(self, request, pk):
        record = actions.visible_merges(request.user).filter(pk=pk).first()
        if record is None:
            raise Http404
        model = service.model_for(record.object_type)
        survivor = model.all_objects.visible_to(request.user, Action.VIEW).filter(pk=record.survivor_id).first()
        return page(request, "dedupe/merge_detail.html", {"merge": record, "survivor": survivor})
