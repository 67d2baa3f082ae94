"""Upload → map columns → preview → run in the background. Pages and the API call these."""

from __future__ import annotations

import datetime
import logging
import re
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import history
from core.choices import Action, ObjectType
from core.errors import DomainError, PermissionDeniedError
from core.export import safe_cell
from core.permissions import can

from .choices import LEAD_TARGETS, JobStatus, OnDuplicate, RowOutcome
from .models import ImportJob, ImportLayout, ImportRow
from .parsing import (
    REASON_COLUMN,
    count_rows,
    file_kind,
    header_signature,
    is_rejected_rows_header,
    read_header,
    rows_to_csv,
)

log = logging.getLogger(__name__)

# Notes and notifications kept as written and shown in the reader's language (core.history).
FINISHED_TITLE = history.message(gettext_noop("Import of %(file)s finished"))
FINISHED_BODY = history.message(gettext_noop("%(c)d created, %(m)d merged, %(s)d skipped, %(r)d rejected."))
IMPORTED_NOTE = history.message(gettext_noop("Imported from %(file)s, row %(row)s"), history.JOINS)

MAX_UPLOAD_BYTES = 200 * 1024 * 1024

# Column titles people use, in Chinese and English → lead field.
SYNONYMS = {
    "company": [
        "公司",
        "公司名称",
        "企业名称",
        "客户名称",
        "单位",
        "单位名称",
        "company",
        "company name",
        "organization",
    ],
    "contact_name": ["联系人", "姓名", "联系人姓名", "name", "contact", "contact name"],
    "title": ["职位", "职务", "title", "job title", "position"],
    "phone": ["电话", "手机", "手机号", "手机号码", "联系电话", "联系方式", "phone", "mobile", "tel"],
    "email": ["邮箱", "电子邮箱", "邮件", "email", "e-mail"],
    "industry": ["行业", "所属行业", "industry"],
    "province": ["省", "省份", "所在省份", "province"],
    "city": ["市", "城市", "所在城市", "city"],
    "district": ["区", "区县", "district"],
    "address": ["地址", "详细地址", "address"],
    "source": ["来源", "线索来源", "source"],
    "campaign": ["活动", "市场活动", "campaign"],
    "score": ["评分", "分数", "score"],
    "owner": ["负责人", "销售", "所有人", "owner"],
    "notes": ["备注", "说明", "notes", "remark", "remarks"],
}


def guess_mapping(header: list[str]) -> dict[str, str]:
    lookup = {re.sub(r"\s+", "", word.lower()): target for target, words in SYNONYMS.items() for word in words}
    mapping, used = {}, set()
    for index, title in enumerate(header):
        target = lookup.get(re.sub(r"[\s*＊:：]+", "", title.lower()))
        if target and target not in used:
            mapping[str(index)] = target
            used.add(target)
    return mapping


def _check_can_import(user) -> None:
    if not can(user, ObjectType.LEAD, Action.CREATE):
        raise PermissionDeniedError()


@transaction.atomic
def upload(*, user, uploaded_file) -> ImportJob:
    """Store the file and read its header; the mapping used last time for this layout is offered again."""
    _check_can_import(user)
    if uploaded_file.size > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": [_("The file is larger than 200 MB.")]})
    kind = file_kind(uploaded_file.name)
    job = ImportJob(created_by=user, original_name=uploaded_file.name[:255], kind=kind)
    job.file.save(f"{timezone.now():%Y%m%d%H%M%S}-{user.pk}.{kind}", uploaded_file, save=False)
    try:
        header, _sample = read_header(Path(job.file.path), kind)
        return _describe(job, header)
    except BaseException:  # refused or failed: no job refers to the file (a killed process: remove_orphan_files)
        job.file.delete(save=False)
        raise


def _describe(job: ImportJob, header: list[str]) -> ImportJob:
    job.header = header
    layout = ImportLayout.objects.filter(object_type="lead", signature=header_signature(header)).first()
    if layout is None and is_rejected_rows_header(header):  # fixed rejected rows: the original's mapping
        layout = ImportLayout.objects.filter(object_type="lead", signature=header_signature(header[:-1])).first()
    job.mapping = layout.mapping if layout else guess_mapping(header)
    job.total_rows = count_rows(Path(job.file.path), job.kind)
    job.save()
    return job


def preview(job: ImportJob, limit: int = 20) -> list[dict]:
    """The first rows as they would be imported, with the reasons the bad ones would be rejected."""
    from .parsing import iter_rows
    from .pipeline import explain_row, preview_matches

    explain = explain_row(job)
    rows = iter_rows(Path(job.file.path), job.kind)
    next(rows, None)
    out = []
    for number, cells in enumerate(rows, start=1):
        if not any(cells):
            continue
        data, reasons = explain(number, cells)
        out.append({"row": number, "cells": cells, "data": data, "reasons": reasons})
        if len(out) >= limit:
            break
    matches = preview_matches(job, [(p["row"], p["cells"]) for p in out if not p["reasons"]])
    for p in out:
        p["match"] = matches.get(p["row"], "")
    return out


@transaction.atomic
def set_mapping(*, job: ImportJob, user, mapping: dict[str, str], on_duplicate: str, default_source: str = "import"):
    if job.created_by_id != user.pk:
        raise PermissionDeniedError()
    if job.status != JobStatus.UPLOADED:
        raise DomainError(_("This import has already started."), code="import_started", status=409)
    clean = {}
    for index, target in mapping.items():
        if not target:
            continue
        if target not in LEAD_TARGETS:
            raise ValidationError({"mapping": [_("Unknown field “%(f)s”.") % {"f": target}]})
        if not str(index).isdecimal() or len(str(index)) > 6 or int(index) >= len(job.header):
            raise ValidationError({"mapping": [_("Unknown column %(c)s.") % {"c": index}]})
        if target in clean.values():
            raise ValidationError({"mapping": [_("“%(f)s” is mapped twice.") % {"f": target}]})
        clean[str(index)] = target
    if "company" not in clean.values():
        raise ValidationError({"mapping": [_("Map a column to the company name.")]})
    if on_duplicate not in OnDuplicate.values:
        raise ValidationError({"on_duplicate": [_("Select a valid choice.")]})
    from leads.choices import LeadSource

    if default_source not in LeadSource.values:
        raise ValidationError({"default_source": [_("Select a valid choice.")]})
    job.mapping, job.on_duplicate, job.default_source = clean, on_duplicate, default_source
    job.save(update_fields=["mapping", "on_duplicate", "default_source"])
    ImportLayout.objects.update_or_create(
        object_type="lead",
        signature=header_signature(job.header),
        defaults={"header": job.header, "mapping": clean, "updated_at": timezone.now()},
    )
    return job


def start(*, job: ImportJob, user) -> ImportJob:
    """Queue the import for the background worker."""
    if job.created_by_id != user.pk:
        raise PermissionDeniedError()
    _check_can_import(user)
    if "company" not in job.mapping.values():
        raise ValidationError({"mapping": [_("Map a column to the company name.")]})
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=JobStatus.UPLOADED).update(
            status=JobStatus.QUEUED, progress_at=timezone.now()
        )
    if not updated:
        raise DomainError(_("This import has already started."), code="import_started", status=409)
    transaction.on_commit(lambda: _enqueue(job.pk))
    job.refresh_from_db()
    return job


def _enqueue(job_id: int) -> None:
    """Hand the job to the workers. A queue that cannot be reached (Redis down) leaves the job queued
    and marked silent, for the next `resume_interrupted` to hand over again."""
    from .jobs import run_import

    try:
        run_import.enqueue(job_id)
    except Exception:
        log.exception("import %s could not be queued; the scheduler will queue it again", job_id)
        ImportJob.objects.filter(pk=job_id).update(progress_at=None)


def cancel(*, job: ImportJob, user) -> ImportJob:
    """Stop after the batch under way; what was imported stays (each batch is whole)."""
    if job.created_by_id != user.pk:
        raise PermissionDeniedError()
    ImportJob.objects.filter(pk=job.pk, status__in=[JobStatus.UPLOADED, JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


# Longer than a worker ever goes between two signs of life (a committed batch, an indexed chunk): a job
# silent for longer lost its worker. A queued job waits its turn behind other imports, so only one
# silent for QUEUED_STALLED_AFTER (or never handed over) is queued again.
STALLED_AFTER = datetime.timedelta(minutes=2)
QUEUED_STALLED_AFTER = datetime.timedelta(minutes=10)
STALL_FIELDS = ("pk", "status", "indexed", "created_count", "progress_at")


def remove_orphan_files(*, now=None, older_than=datetime.timedelta(days=1)) -> int:
    """Delete uploaded files no import refers to: a process killed between storing an upload and saving
    its job leaves one behind (up to 200 MB each). Only files older than `older_than`, so an upload
    under way is never touched. Scheduled daily."""
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    folder = root / "imports"
    if not folder.is_dir():
        return 0
    cutoff = ((now or timezone.now()) - older_than).timestamp()
    referenced = set(ImportJob.objects.exclude(file="").values_list("file", flat=True))
    removed = 0
    for path in folder.rglob("*"):
        if path.is_file() and path.stat().st_mtime < cutoff and path.relative_to(root).as_posix() not in referenced:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def resume_interrupted(*, now=None) -> int:
    """Hand again to the workers the imports a dead worker left behind, found by their silence: running
    ones continue from their last committed batch; queued ones (a worker killed as it took the task, or
    a queue that could not be reached) start; finished ones whose search indexing stopped index again.
    Safe when the job is in fact alive: batches are claimed by cursor under a lock and indexing replaces,
    never adds. Runs every minute from the scheduler."""
    now = now or timezone.now()
    busy = Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]) | Q(
        status=JobStatus.DONE, indexed=False, created_count__gt=0
    )
    # the jobs that could be stalled; ImportJob.stalled_at says which are
    ids = [job.pk for job in ImportJob.objects.filter(busy).only(*STALL_FIELDS) if job.stalled_at(now)]
    # marked as handed over, so that the next run waits as long again before handing it over once more
    ImportJob.objects.filter(pk__in=ids).update(progress_at=now)
    for pk in ids:
        _enqueue(pk)
    return len(ids)


def _survivors(ids: set[int]) -> dict[int, int]:
    """Lead id → the lead it was merged into. One lookup: a survivor merged away later hands its merge
    records on to the new survivor (dedupe.actions.merge_records), so they always name the last one."""
    from dedupe.models import MergeRecord

    merges = MergeRecord.objects.filter(object_type=ObjectType.LEAD, loser_id__in=ids)
    return dict(merges.values_list("loser_id", "survivor_id"))


def row_page(*, job: ImportJob, user, outcome: str = "", after: int | None = None, descending=False, limit=50):
    """One page of what became of the job's rows, and the row number to continue after (None at the end).
    A row's record id is kept only where the user may see that lead: a row that matched a lead he may not
    see says whose it is instead (the duplicate check's wording), never which."""
    from leads.models import Lead

    from .models import job_rows

    if outcome and outcome not in RowOutcome.values:
        raise ValidationError({"outcome": [_("Select a valid choice.")]})
    results = job_rows(job, outcome=outcome, after=after, descending=descending, limit=limit + 1)
    following = None
    if len(results) > limit:
        results = results[:limit]
        following = results[-1].row_number
    merged = _survivors({r.record_id for r in results if r.record_id})
    if merged:  # a lead merged since: the row points at the one it lives on in
        results = [r._replace(record_id=merged.get(r.record_id, r.record_id)) for r in results]
    ids = {r.record_id for r in results if r.record_id}
    visible = set(Lead.objects.visible_to(user, Action.VIEW).filter(pk__in=ids).values_list("pk", flat=True))
    hidden = {}
    if ids - visible:
        from dedupe.service import describe_hidden

        records = Lead.all_objects.select_related("owner__department", "pool").filter(pk__in=ids - visible)
        hidden = {record.pk: describe_hidden(record) for record in records}
    page = []
    for r in results:
        if r.record_id and r.record_id not in visible:
            reasons = r.reasons
            if not reasons and r.outcome in (RowOutcome.SKIPPED, RowOutcome.MERGED):  # what it matched
                reasons = {"__all__": [hidden.get(r.record_id, _("Already exists."))]}
            r = r._replace(record_id=None, reasons=reasons)
        page.append(r)
    return page, following


def rejected_rows_response(job: ImportJob):
    """The rejected rows as a CSV download: the file's own columns and a reason column (its title in the
    reader's language), cells that would read as formulas quoted. Imported again as it is, once fixed,
    it takes the original layout's mapping and the quotes come off (imports.parsing)."""
    header = [*job.header, _(REASON_COLUMN)]
    rows = []
    for row in ImportRow.objects.filter(job=job, outcome=RowOutcome.REJECTED).order_by("row_number"):
        reason = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in row.reasons.items())
        cells = list(row.values) + [""] * (len(job.header) - len(row.values))
        rows.append([safe_cell(c) for c in cells[: len(job.header)]] + [safe_cell(reason)])
    response = HttpResponse(rows_to_csv(header, rows), content_type="text/csv; charset=utf-8")
    stem = Path(job.original_name).stem[:80]
    response["Content-Disposition"] = (
        f"attachment; filename=\"rejected-{job.pk}.csv\"; filename*=UTF-8''{quote(stem + '-rejected.csv')}"
    )
    return response
