"""Public form submissions: spam and flood checks, then a lead created the same way as everywhere else."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import history, hooks
from core.choices import HistoryAction, ObjectType
from core.errors import DomainError
from core.notify import notify
from dedupe.service import DuplicateError
from leads import actions as lead_actions

from .choices import WEB_FORM_HISTORY_TYPE, NotificationKind, SubmissionOutcome
from .forms import PublicForm, field_label
from .models import FormSubmission, WebForm

MIN_FILL_SECONDS = 2
RESUBMITTED_NOTE = history.message(
    gettext_noop("Filled in the web form “%(form)s” again"), history.OWN_WORDS
)  # followed by " — " and what the visitor sent
RESUBMITTED_TITLE = history.message(gettext_noop("“%(lead)s” filled in the web form “%(form)s” again"))
TIMER_SALT = "capture.form-timer"


@dataclass
class SubmissionResult:
    outcome: str
    lead_id: int | None = None


def form_timer() -> str:
    """A signed timestamp the page carries: a human needs a few seconds to fill in the form, a bot does not."""
    return signing.dumps(int(time.time()), salt=TIMER_SALT)


def _seconds_since(token: str | None) -> float | None:
    if not token:
        return None
    try:
        started = signing.loads(token, salt=TIMER_SALT, max_age=86400)
    except signing.BadSignature:
        return None
    return time.time() - int(started)


def hash_ip(ip: str) -> str:
    return hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()


def _over_rate_limit(form: WebForm, ip_hash: str) -> bool:
    """A fixed one-hour window per form and visitor, counted in the cache shared by all workers."""
    key = f"webform:{form.pk}:{ip_hash[:32]}:{int(time.time() // 3600)}"
    if cache.add(key, 1, timeout=3600):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=3600)
        return False
    return count > form.rate_limit_per_hour


def _record(form, outcome, ip_hash, lead=None, detail=""):
    FormSubmission.objects.create(form=form, outcome=outcome, ip_hash=ip_hash, lead=lead, detail=detail[:300])


def _blocking_lead(error: DuplicateError):
    """The lead a blocking duplicate rule found for a submission: the best such hit, if a lead."""
    from leads.models import Lead

    if error.code != "duplicate":
        return None
    hit = next((h for h in error.hits if h.object_type == ObjectType.LEAD), None)
    return Lead.objects.filter(pk=hit.pk).select_related("owner").first() if hit else None


@transaction.atomic
def _add_to_existing(form: WebForm, lead, lead_data: dict) -> None:
    """What the visitor sent goes into the existing lead's history, and its owner hears of it."""
    from leads.models import Lead

    asked = {name: value for name, value in lead_data.items() if name not in ("source", "campaign")}
    submitted = Lead(**asked)  # unsaved: shows the values as a lead would (choice labels)
    sent = "; ".join(
        f"{field_label(name)}: {history.display_value(submitted, name)}"
        for name, value in asked.items()
        if value not in (None, "")
    )
    note = _(RESUBMITTED_NOTE) % {"form": form.name}
    history.write(instance=lead, action=HistoryAction.UPDATE, actor=None, note=f"{note} — {sent}"[:500])
    if lead.owner_id:
        notify(
            users=[lead.owner],
            kind=NotificationKind.RESUBMITTED,
            title=_(RESUBMITTED_TITLE) % {"lead": lead, "form": form.name},
            body=sent,
            url=lead.get_absolute_url(),
        )


def submit_form(
    *, form: WebForm, data: dict, ip: str, honeypot: str = "", timer: str | None = None, require_timer: bool = True
) -> SubmissionResult:
    """Create a lead from a visitor's submission. Spam gets a polite answer and creates nothing."""
    if not form.is_active:
        raise DomainError(_("This form is closed."), code="form_closed", status=404)
    ip_hash = hash_ip(ip or "")
    if _over_rate_limit(form, ip_hash):
        _record(form, SubmissionOutcome.RATE_LIMITED, ip_hash)
        raise DomainError(
            _("Too many submissions from your address; please try again later."), code="rate_limited", status=429
        )
    elapsed = _seconds_since(timer)
    if honeypot or (require_timer and (elapsed is None or elapsed < MIN_FILL_SECONDS)):
        _record(form, SubmissionOutcome.SPAM, ip_hash, detail="honeypot" if honeypot else "timer")
        return SubmissionResult(SubmissionOutcome.SPAM)
    visitor_form = PublicForm(data, web_form=form)
    if not visitor_form.is_valid():
        errors = visitor_form.errors.as_data()
        _record(form, SubmissionOutcome.INVALID, ip_hash, detail=", ".join(errors))
        raise ValidationError(errors)
    lead_data = {spec["name"]: visitor_form.cleaned_data.get(spec["name"], "") for spec in form.field_specs()}
    lead_data.update({"source": form.source, "campaign": form.campaign})
    detail = ""
    try:
        try:
            with transaction.atomic():
                lead = lead_actions.create_lead(user=form.run_as, data=lead_data)
        except DuplicateError as error:
            # The duplicate rules name existing records and their owners: a visitor must learn nothing of
            # them and gets the same thanks. A lead a blocking rule finds takes the submission (its history
            # says what was sent, its owner is told); otherwise the lead is kept anyway and staff find the
            # match with the lead's "Find duplicates".
            existing = _blocking_lead(error)
            if existing is not None:
                _add_to_existing(form, existing, lead_data)
                _record(form, SubmissionOutcome.MATCHED, ip_hash, lead=existing, detail=error.code)
                return SubmissionResult(SubmissionOutcome.MATCHED)
            detail = error.code
            with transaction.atomic(), hooks.check_options(skip_duplicate_check=True):
                lead = lead_actions.create_lead(user=form.run_as, data=lead_data)
    except ValidationError as error:
        _record(form, SubmissionOutcome.INVALID, ip_hash, detail="; ".join(error.messages)[:300])
        raise
    except DomainError as error:
        _record(form, SubmissionOutcome.REJECTED, ip_hash, detail=str(error.message))
        raise
    _record(form, SubmissionOutcome.CREATED, ip_hash, lead=lead, detail=detail)
    return SubmissionResult(SubmissionOutcome.CREATED, lead.pk)


# --- the forms themselves: admin settings with a history ----------------------------------------------


def _fields_text(form: WebForm) -> str:
    """The asked fields as an admin reads them (“Company name (required), Phone”), not as stored JSON."""
    return ", ".join(
        _("%(field)s (required)") % {"field": field_label(spec["name"])}
        if spec.get("required")
        else str(field_label(spec["name"]))
        for spec in form.field_specs()
    )


def _form_snapshot(form: WebForm) -> dict[str, str]:
    shown = history.snapshot(form)  # `history_fields` leave out the token: it never reaches the history
    shown["fields"] = _fields_text(form)
    return shown


def _form_changes(form: WebForm, before: dict[str, str]) -> list[dict]:
    return history.changes_between(before, _form_snapshot(form), history.field_labels(form))


def _log(form: WebForm, action: str, user, changes=(), note: str = "") -> None:
    history.write(
        instance=form, action=action, actor=user, changes=changes, note=note, object_type=WEB_FORM_HISTORY_TYPE
    )


def form_history(form: WebForm):
    """The web form's settings history, newest first."""
    return history.for_record(form, object_type=WEB_FORM_HISTORY_TYPE).order_by("-at", "-id")


@transaction.atomic
def save_form(*, user, data: dict, form: WebForm | None = None) -> WebForm:
    """Create or change a web form (admins only), with its history: every field set on creation, old and
    new values of the changed ones after (nothing when nothing changed). Only the admin-editable fields
    (`WebForm.history_fields`) are taken from `data`; the token is not one of them."""
    from org.permissions import require_admin

    require_admin(user)
    creating = form is None or form.pk is None
    if creating:
        form = form or WebForm()
        form.created_by = form.created_by or user
        before: dict[str, str] = {}
    else:
        # From the database, locked: a page's ModelForm has already written the new values onto `form`.
        form = WebForm.objects.select_for_update().get(pk=form.pk)
        before = _form_snapshot(form)
    for key, value in data.items():
        if key in WebForm.history_fields:
            setattr(form, key, value)
    form.full_clean()
    form.save()
    changes = _form_changes(form, before)
    if creating:
        _log(form, HistoryAction.CREATE, user, changes)
    elif changes:
        _log(form, HistoryAction.UPDATE, user, changes)
    return form
