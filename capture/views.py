"""The public form page (no login, embeddable) and the admin pages for web forms."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from core.errors import DomainError, validation_error_fields
from core.views import apply_errors, form_data
from org.permissions import is_admin

from . import actions
from .choices import SubmissionOutcome
from .forms import PublicForm, WebFormForm
from .models import WebForm


def client_ip(request) -> str:
    # Behind a reverse proxy set TIDE_TRUST_X_FORWARDED_FOR=1 (see README) so visitors are told apart.
    from django.conf import settings

    if getattr(settings, "TIDE_TRUST_X_FORWARDED_FOR", False):
        # The proxy appends the address it saw to whatever the client sent: only the last entry is its word.
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


@csrf_exempt  # a public, embeddable form: no session to protect; honeypot, timer and rate limit guard it
@xframe_options_exempt
def public_form(request, key):
    web_form = WebForm.objects.filter(key=key, is_active=True).select_related("run_as").first()
    if web_form is None:
        raise Http404
    wants_json = request.content_type == "application/json"
    if request.method == "POST":
        if wants_json:
            import json

            from django.core.exceptions import RequestDataTooBig

            try:
                payload = json.loads(request.body or b"{}")
                if not isinstance(payload, dict):
                    raise ValueError
            except RequestDataTooBig:
                return JsonResponse(
                    {"code": "too_large", "message": _("The request body is too large."), "errors": {}}, status=413
                )
            except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
                return JsonResponse(
                    {"code": "validation_error", "message": _("The request body is not valid JSON."), "errors": {}},
                    status=400,
                )
            data, honeypot, timer = payload, str(payload.get("website") or ""), None
        else:
            data, honeypot, timer = request.POST, request.POST.get("website", ""), request.POST.get("timer")
        form = PublicForm(request.POST if not wants_json else None, web_form=web_form)
        try:
            result = actions.submit_form(
                form=web_form,
                data=data,
                ip=client_ip(request),
                honeypot=honeypot,
                timer=timer,
                require_timer=not wants_json,
            )
        except ValidationError as error:
            if wants_json:
                return JsonResponse(
                    {
                        "code": "validation_error",
                        "message": _("Please correct the errors below."),
                        "errors": validation_error_fields(error),
                    },
                    status=422,
                )
            if form.is_valid():  # the form's own errors are on it already; add those of the lead's checks
                apply_errors(form, error)
        except DomainError as error:
            if wants_json:
                return JsonResponse(
                    {"code": error.code, "message": str(error.message), "errors": {}}, status=error.status
                )
            return render(
                request, "capture/public.html", {"web_form": web_form, "error": error.message}, status=error.status
            )
        else:
            if wants_json:
                return JsonResponse({"ok": True, "message": web_form.success_message or _("Thank you!")}, status=201)
            return render(
                request, "capture/thanks.html", {"web_form": web_form, "spam": result.outcome == SubmissionOutcome.SPAM}
            )
    else:
        form = PublicForm(web_form=web_form, initial={"timer": actions.form_timer()})
    if "timer" in form.fields and request.method == "POST":
        form.data = form.data.copy()
        form.data["timer"] = actions.form_timer()
    return render(request, "capture/public.html", {"web_form": web_form, "form": form})


def _require_admin(user):
    if not is_admin(user):
        raise PermissionDenied


@login_required
def form_list(request):
    _require_admin(request.user)
    forms_ = WebForm.objects.annotate(submission_count=Count("submissions")).select_related("run_as")
    return render(request, "capture/list.html", {"forms": forms_})


@login_required
def form_edit(request, pk=None):
    _require_admin(request.user)
    instance = get_object_or_404(WebForm, pk=pk) if pk else None
    form = WebFormForm(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form_data(form)
        data["fields"] = form.field_specs()
        try:
            saved = actions.save_form(user=request.user, data=data, form=instance)
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Web form saved."))
            return redirect(saved.get_absolute_url())
    entries = actions.form_history(instance)[:30] if instance else None
    return render(request, "capture/edit.html", {"form": form, "object": instance, "history": entries})


@login_required
def form_detail(request, pk):
    _require_admin(request.user)
    web_form = get_object_or_404(WebForm, pk=pk)
    outcomes = dict(web_form.submissions.values_list("outcome").annotate(n=Count("id")))
    recent = web_form.submissions.select_related("lead")[:30]
    url = request.build_absolute_uri(web_form.public_url())
    return render(
        request,
        "capture/detail.html",
        {
            "object": web_form,
            "public_url": url,
            "outcomes": outcomes,
            "recent": recent,
            "outcome_labels": dict(SubmissionOutcome.choices),
            "history": actions.form_history(web_form)[:30],
        },
    )
