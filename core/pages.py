"""Pages that belong to no single object type: home, recycle bin, API tokens, autocomplete, history."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import actions as core_actions
from .choices import Action, HistoryAction, ObjectType
from .errors import DomainError, NotFoundError, validation_error_fields
from .ids import parse_id
from .models import ApiToken, ChangeLog, Notification
from .permissions import can
from .registry import owned_models
from .views import capped_count


@login_required
def home(request):
    from followups.models import FollowUp
    from leads.choices import LeadStatus
    from leads.models import Lead
    from opportunities.choices import OpportunityStatus
    from opportunities.models import Opportunity

    user = request.user
    today = timezone.localdate()
    context = {"today": today}
    if can(user, ObjectType.FOLLOWUP, Action.VIEW):
        context["due_followups"] = (
            FollowUp.objects.visible_to(user)
            .filter(
                owner=user, next_follow_up_on__isnull=False, next_follow_up_on__lte=today + datetime.timedelta(days=7)
            )
            .select_related("account", "contact", "lead", "opportunity")
            .order_by("next_follow_up_on", "-id")[:10]
        )
    if can(user, ObjectType.LEAD, Action.VIEW):
        context["new_leads"] = capped_count(Lead.objects.visible_to(user).filter(owner=user, status=LeadStatus.NEW))
        context["recent_leads"] = Lead.objects.visible_to(user).filter(owner=user).order_by("-created_at", "-id")[:5]
    if can(user, ObjectType.OPPORTUNITY, Action.VIEW):
        context["closing_soon"] = (
            Opportunity.objects.visible_to(user)
            .filter(
                owner=user, status=OpportunityStatus.OPEN, expected_close_date__lte=today + datetime.timedelta(days=30)
            )
            .select_related("account", "stage")
            .order_by("expected_close_date", "id")[:10]
        )
    return render(request, "core/home.html", context)


@login_required
def recycle_bin(request):
    groups = []
    for object_type, model in owned_models().items():
        if not can(request.user, object_type, Action.DELETE):
            continue
        rows = (
            model.all_objects.visible_to(request.user, Action.DELETE)
            .filter(deleted_at__isnull=False)
            .select_related("deleted_by")
            .order_by("-deleted_at")[:100]
        )
        groups.append({"type": object_type, "label": ObjectType(object_type).label, "rows": rows})
    return render(request, "core/recycle_bin.html", {"groups": groups})


@login_required
@require_POST
def restore(request, object_type, pk):
    model = owned_models().get(object_type)
    if model is None:
        raise Http404
    try:
        obj = core_actions.get_for(model, request.user, Action.DELETE, pk, include_deleted=True)
        obj = core_actions.restore_record(instance=obj, user=request.user)
    except NotFoundError:
        raise Http404 from None
    except ValidationError as error:
        for msgs in validation_error_fields(error).values():
            for m in msgs:
                messages.error(request, m)
        return redirect("core:recycle_bin")
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("core:recycle_bin")
    messages.success(request, _("%(name)s restored.") % {"name": obj})
    return redirect(obj.get_absolute_url())


@login_required
def region_options(request, level: str):
    """The <option>s of a region picker below the one just changed: a province's cities (clearing the
    districts, out of band) or a city's districts (core.forms.cascade_regions wires the selects)."""
    from django.utils.html import format_html, format_html_join
    from django.utils.safestring import mark_safe

    from .regions import regions

    if level not in ("cities", "districts"):
        raise Http404
    parent = next(
        (v for k, v in request.GET.items() if k.endswith("province_code" if level == "cities" else "city_code")), ""
    )
    empty = mark_safe('<option value="">—</option>')  # noqa: S308 - a constant
    options = format_html_join("", '<option value="{}">{}</option>', regions().options(parent[:6]) if parent else [])
    body = empty + options
    target = request.GET.get("districts", "")
    if level == "cities" and target.replace("_", "").isalnum():  # the districts of the old city go too
        body += format_html('<select id="{}" hx-swap-oob="innerHTML">{}</select>', target, empty)
    return HttpResponse(body)


@login_required
def api_tokens(request):
    new_token = None
    if request.method == "POST":
        token_id = parse_id(request.POST.get("revoke"))
        if token_id is not None:
            core_actions.revoke_api_token(user=request.user, token_id=token_id)
            messages.success(request, _("Token revoked."))
            return redirect("core:api_tokens")
        try:
            name = request.POST.get("name", "").replace("\x00", "")
            _token, new_token = core_actions.issue_api_token(user=request.user, name=name)
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(request, m)
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "core/api_tokens.html", {"tokens": tokens, "new_token": new_token})


@login_required
def autocomplete(request, object_type):
    """Up to 20 visible records of a type matching `q`, for the autocomplete widget."""
    from search.backends import filter_matching

    models_by_type = owned_models()
    model = models_by_type.get(object_type)
    if model is None:
        raise Http404
    if not can(request.user, object_type, Action.VIEW):
        raise PermissionDenied
    query = request.GET.get("q", "").strip()[:100]
    qs = model.objects.visible_to(request.user, Action.VIEW)
    if query:
        qs = filter_matching(qs, query)
    rows = qs.order_by("-updated_at", "-id")[:20]
    if request.headers.get("HX-Request"):
        return render(request, "core/widgets/autocomplete_options.html", {"rows": rows})
    return JsonResponse({"results": [{"id": r.pk, "text": str(r)} for r in rows]})


@login_required
def history_list(request):
    """Recent changes to records the user can see (the timeline of his part of the company)."""
    entries = []
    for object_type, model in owned_models().items():
        if not can(request.user, object_type, Action.VIEW):
            continue
        changes = ChangeLog.objects.filter(object_type=object_type)
        scope_q = model.all_objects.all().visibility_q(request.user, Action.VIEW)
        if scope_q is not None:  # everything visible: no need to list every id
            changes = changes.filter(object_id__in=model.all_objects.filter(scope_q).values("id"))
        entries.extend(
            changes.exclude(action=HistoryAction.CREATE, actor=None).select_related("actor").order_by("-at")[:30]
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return render(request, "core/history.html", {"entries": entries[:60]})


@login_required
def notifications(request):
    """The user's inbox; opening it marks what it shows as read (POST `read_all` for the rest)."""
    inbox = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        core_actions.mark_notifications_read(user=request.user)
        return redirect("core:notifications")
    rows = list(inbox[:100])
    unread = [n.pk for n in rows if n.read_at is None]
    if unread:
        core_actions.mark_notifications_read(user=request.user, ids=unread)
    return render(request, "core/notifications.html", {"rows": rows, "unread": set(unread)})
