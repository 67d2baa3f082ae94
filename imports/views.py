"""Import pages: upload, map and preview, watch the progress bar, download the rejected rows."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core.choices import Action, ObjectType
from core.errors import DomainError, validation_error_fields
from core.permissions import can

from . import actions
from .choices import LEAD_TARGETS, JobStatus, OnDuplicate, RowOutcome
from .models import ImportJob


def _job(request, pk) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk, created_by=request.user).first()
    if job is None:
        raise Http404
    return job


def _errors_to_messages(request, error):
    for msgs in validation_error_fields(error).values():
        for m in msgs:
            messages.error(request, m)


def _default_reason(row) -> list[str]:
    """What a row without reasons of its own means: skipped or merged rows matched an existing lead by the
    re-import fingerprint, phone or e-mail (only rules and repeats within the file write reasons)."""
    if row.outcome == RowOutcome.SKIPPED:
        return [_("Matches an existing lead: the same row imported before, or the same phone or e-mail.")]
    if row.outcome == RowOutcome.MERGED:
        return [_("Matches an existing lead: its empty fields were filled in from this row.")]
    return []


@login_required
def import_list(request):
    if not can(request.user, ObjectType.LEAD, Action.CREATE):
        raise PermissionDenied
    if request.method == "POST":
        uploaded = request.FILES.get("file")
        if uploaded is None:
            messages.error(request, _("Choose a file to upload."))
        else:
            try:
                job = actions.upload(user=request.user, uploaded_file=uploaded)
            except ValidationError as error:
                _errors_to_messages(request, error)
            else:
                return redirect(job.get_absolute_url())
    jobs = ImportJob.objects.filter(created_by=request.user)[:50]
    return render(request, "imports/list.html", {"jobs": jobs})


def _target_choices():
    from leads.models import Lead

    labels = {
        "province": _("Province"),
        "city": _("City"),
        "district": _("District"),
        "owner": _("Owner"),
    }
    out = [("", _("— ignore —"))]
    for target in LEAD_TARGETS:
        label = labels.get(target) or Lead._meta.get_field(target).verbose_name
        out.append((target, label))
    return out


@login_required
def import_detail(request, pk):
    job = _job(request, pk)
    if request.method == "POST" and job.status == JobStatus.UPLOADED:
        mapping = {str(i): request.POST.get(f"col_{i}", "") for i in range(len(job.header))}
        try:
            actions.set_mapping(
                job=job,
                user=request.user,
                mapping=mapping,
                on_duplicate=request.POST.get("on_duplicate", OnDuplicate.SKIP),
                default_source=request.POST.get("default_source", "import"),
            )
            if request.POST.get("start"):
                actions.start(job=job, user=request.user)
                messages.success(request, _("Import started; you can leave this page, it runs in the background."))
        except ValidationError as error:
            _errors_to_messages(request, error)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect(job.get_absolute_url())
    context = {"job": job}
    if job.status == JobStatus.UPLOADED:
        from leads.choices import LeadSource

        context.update(
            {
                "columns": list(enumerate(job.header)),
                "targets": _target_choices(),
                "preview": actions.preview(job),
                "on_duplicate_choices": OnDuplicate.choices,
                "source_choices": LeadSource.choices,
            }
        )
    elif job.finished:
        context.update(_rows_context(request, job))
    template = "imports/_progress.html" if request.headers.get("HX-Request") else "imports/detail.html"
    return render(request, template, context)


ROWS_PER_PAGE = 50


def _rows_context(request, job: ImportJob) -> dict:
    """What became of each row, 50 at a time, one outcome or all: the record a row created or matched
    is linked where the user may open it."""
    from leads.models import Lead

    outcome = request.GET.get("outcome", "")
    if outcome not in RowOutcome.values:
        outcome = ""
    try:
        after = max(0, int(request.GET.get("after", "")))
    except ValueError:
        after = None
    results, following = actions.row_page(job=job, user=request.user, outcome=outcome, after=after, limit=ROWS_PER_PAGE)
    linked = Lead.all_objects.filter(pk__in={r.record_id for r in results if r.record_id})
    names = {lead.pk: str(lead) for lead in linked.only("company", "contact_name")}
    counts = {
        RowOutcome.CREATED: job.created_count,
        RowOutcome.MERGED: job.merged_count,
        RowOutcome.SKIPPED: job.skipped_count,
        RowOutcome.REJECTED: job.rejected_count,
    }
    return {
        "rows": [
            {
                "number": r.row_number,
                "outcome": r.outcome,
                "outcome_label": RowOutcome(r.outcome).label,
                "record_id": r.record_id,
                "record_name": names.get(r.record_id, ""),
                "cells": " · ".join(str(v) for v in r.values[:4] if v),
                "reasons": [m for msgs in r.reasons.values() for m in msgs] or _default_reason(r),
            }
            for r in results
        ],
        "row_filter": outcome,
        "row_tabs": [("", _("All"), job.total_rows)] + [(o.value, o.label, counts[o]) for o in RowOutcome],
        "rows_after": following,
    }


@login_required
def import_cancel(request, pk):
    job = _job(request, pk)
    if request.method == "POST":
        actions.cancel(job=job, user=request.user)
    return redirect(job.get_absolute_url())


@login_required
def rejected_rows(request, pk):
    """The rejected rows with a reason column, to fix and import again."""
    return actions.rejected_rows_response(_job(request, pk))
