"""Import jobs: an uploaded file, its column mapping, progress, and what became of every row."""

from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import JobStatus, OnDuplicate, RowOutcome


class ImportLayout(models.Model):
    """The mapping last used for files whose header looks exactly like this one."""

    object_type = models.CharField(max_length=20, default="lead")
    signature = models.CharField(max_length=32)
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object_type", "signature"], name="importlayout_unique")]


class ImportJob(models.Model):
    object_type = models.CharField(max_length=20, default="lead", editable=False)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    kind = models.CharField(max_length=10)  # csv | xlsx
    header = models.JSONField(default=list)
    mapping = models.JSONField(_("column mapping"), default=dict)  # column index (str) -> target field
    on_duplicate = models.CharField(
        _("when a row matches an existing record"), max_length=10, choices=OnDuplicate.choices, default=OnDuplicate.SKIP
    )
    default_source = models.CharField(_("source when the file has none"), max_length=20, default="import")
    status = models.CharField(_("status"), max_length=20, choices=JobStatus.choices, default=JobStatus.UPLOADED)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows done"), default=0)  # the resume cursor
    created_count = models.PositiveIntegerField(default=0)
    merged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the job last showed life: queued, a batch committed, a chunk indexed. A queued or running job
    # silent for longer than actions.STALLED_AFTER lost its worker (resume_interrupted picks it up).
    progress_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Search tokens and abbreviation keys of the created records are built after the rows are in (derived
    # data, like any search engine's index); True once every created record of the job is searchable.
    indexed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("imports:detail", args=[self.pk])

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else min(100, int(self.processed_rows * 100 / self.total_rows))

    @property
    def indexing(self) -> bool:
        """Rows are in, search tokens of the new records are still being built."""
        return self.status == JobStatus.DONE and not self.indexed and self.created_count > 0

    @property
    def stalled(self) -> bool:
        return self.stalled_at(timezone.now())

    def stalled_at(self, now) -> bool:
        """Running (or indexing), yet silent for longer than a worker ever is between two batches; queued,
        for longer than a queue of other imports would keep it waiting. The scheduler hands such a job
        to the workers again (actions.resume_interrupted)."""
        from .actions import QUEUED_STALLED_AFTER, STALLED_AFTER

        if not (self.status in (JobStatus.QUEUED, JobStatus.RUNNING) or self.indexing):
            return False
        silence = QUEUED_STALLED_AFTER if self.status == JobStatus.QUEUED else STALLED_AFTER
        return self.progress_at is None or self.progress_at < now - silence

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class ImportRow(models.Model):
    """A row's fate: created, merged, skipped (with the record it matched) or rejected (with reasons).

    Created rows are stored as runs: `row_count` consecutive rows that created consecutive records
    (`record_id`, `record_id + 1`, …), so a million-row import that creates everything writes a few
    dozen of these instead of a million. Every other outcome is one entry per row. Read them row by
    row through `job_rows` below. A created run is also its leads' creation history (imports.history):
    deleting a job would take that with it, which is why nothing deletes jobs. No fingerprint here (see
    ImportFingerprint) and only the (job, row) key, which rows of a job are read by."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows", db_index=False)
    row_number = models.PositiveIntegerField()  # 1-based, header excluded
    outcome = models.CharField(max_length=10, choices=RowOutcome.choices)
    record_id = models.BigIntegerField(null=True, blank=True)  # created (the run's first) or matched record
    row_count = models.PositiveIntegerField(default=1)  # rows in a run of created rows; 1 otherwise
    # created runs: the rules that placed some of its rows, and per row which (see BatchWriter.record)
    placements = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=dict, blank=True)  # field -> [messages] for rejected rows
    values = models.JSONField(default=list, blank=True)  # the original cells of rejected rows, for the fix-up file

    class Meta:
        ordering = ["job", "row_number"]
        constraints = [models.UniqueConstraint(fields=["job", "row_number"], name="importrow_unique_row")]
        # a lead's creation history: the run holding its id (a few entries per job, so a small index)
        indexes = [
            models.Index(fields=["record_id"], name="importrow_created_idx", condition=models.Q(outcome="created"))
        ]


class ImportFingerprint(models.Model):
    """A 64-bit hash of every imported row that created a record, as the primary key itself, so a
    re-imported row is recognised with one index probe and costs one B-tree entry to remember."""

    id = models.BigIntegerField(primary_key=True)
    object_type = models.CharField(max_length=20, default="lead")
    record_id = models.BigIntegerField()
    job = models.ForeignKey(ImportJob, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False)


class RowResult(NamedTuple):
    """One row of a job as the importer sees it (runs of created rows expanded)."""

    row_number: int
    outcome: str
    record_id: int | None
    reasons: dict
    values: list


def job_rows(job, *, outcome: str = "", after: int | None = None, descending: bool = False, limit: int | None = None):
    """The job's rows in row order (or reversed), after row `after`, at most `limit`: runs of created rows
    are expanded into one result per row, each with its own record id."""
    entries = ImportRow.objects.filter(job=job)
    if outcome:
        entries = entries.filter(outcome=outcome)
    first = []
    if after is not None and descending:
        entries = entries.filter(row_number__lt=after)
    elif after is not None:
        # a run starting at or before `after` may reach past it: only the last such entry can
        first = list(entries.filter(row_number__lte=after).order_by("-row_number")[:1])
        entries = entries.filter(row_number__gt=after)
    entries = entries.order_by("-row_number" if descending else "row_number")
    if limit is not None:
        entries = entries[:limit]
    results: list[RowResult] = []
    for entry in [*first, *entries]:
        numbers = range(entry.row_number, entry.row_number + entry.row_count)
        for offset in reversed(range(entry.row_count)) if descending else range(entry.row_count):
            number = numbers[offset]
            if after is not None and (number >= after if descending else number <= after):
                continue
            record_id = entry.record_id + offset if entry.record_id is not None else None
            results.append(RowResult(number, entry.outcome, record_id, entry.reasons, entry.values))
            if limit is not None and len(results) >= limit:
                return results
    return results
