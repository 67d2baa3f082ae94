"""Imports over the Open API: upload a file, set its mapping, start it, follow its progress and rows."""

import datetime

from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from core.api import ErrorOut, ListParams
from core.errors import NotFoundError
from core.keyset import decode_cursor, encode_cursor, parse_ordering

from . import actions
from .models import ImportJob, ImportRow

router = Router(tags=["imports"])  # /api/v1/imports/


class JobOut(Schema):
    id: int
    original_name: str
    kind: str
    header: list[str]
    mapping: dict[str, str]
    on_duplicate: str
    default_source: str
    status: str
    total_rows: int
    processed_rows: int
    percent: int
    created_count: int
    merged_count: int
    skipped_count: int
    rejected_count: int
    indexed: bool = Field(description="Every created record is findable in search (built right after the rows)")
    error: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None = None
    progress_at: datetime.datetime | None = Field(
        None, description="When the job last showed life: queued, a batch committed, a chunk of search tokens built"
    )
    stalled: bool = Field(
        description="Running yet silent for over 2 minutes (queued: 10): its worker has probably stopped; the "
        "scheduler hands it to the workers again and it resumes from its last committed batch"
    )


class MappingIn(Schema):
    mapping: dict[str, str] = Field(..., description="Column index → lead field (company, contact_name, phone, …)")
    on_duplicate: str = Field(
        "skip",
        description="skip, merge or create (create confirms duplicate-rule warnings; rules set to block still skip)",
    )
    default_source: str = "import"


class PreviewRow(Schema):
    row: int
    cells: list[str]
    data: dict[str, str]
    reasons: dict[str, list[str]]
    match: str = Field("", description="What an existing lead the row matches will mean for it, if any.")


class RowOut(Schema):
    row_number: int
    outcome: str
    record_id: int | None = None
    reasons: dict[str, list[str]]
    values: list[str]


class RowPage(Schema):
    results: list[RowOut]
    next_cursor: str | None = None


class RowFilter(Schema):
    outcome: str | None = Field(None, description="created, merged, skipped or rejected")


def _job(request, job_id) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id, created_by=request.user).first()
    if job is None:
        raise NotFoundError()
    return job


@router.post(
    "/",
    response={201: JobOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="import_upload",
    summary="Upload a CSV (UTF-8/GBK) or XLSX file of leads",
)
def upload(request, file: File[UploadedFile]):
    return Status(201, actions.upload(user=request.user, uploaded_file=file))


@router.get("/", response=list[JobOut], operation_id="import_list", summary="My imports")
def list_jobs(request):
    return list(ImportJob.objects.filter(created_by=request.user)[:100])


@router.get(
    "/{int:job_id}",
    response={200: JobOut, 404: ErrorOut},
    operation_id="import_get",
    summary="One import with its progress",
)
def get_job(request, job_id: int):
    return _job(request, job_id)


@router.put(
    "/{int:job_id}/mapping",
    response={200: JobOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    operation_id="import_mapping",
    summary="Set the column mapping (remembered for files of the same layout)",
)
def set_mapping(request, job_id: int, payload: MappingIn):
    return actions.set_mapping(
        job=_job(request, job_id),
        user=request.user,
        mapping=payload.mapping,
        on_duplicate=payload.on_duplicate,
        default_source=payload.default_source,
    )


@router.get(
    "/{int:job_id}/preview",
    response={200: list[PreviewRow], 404: ErrorOut},
    operation_id="import_preview",
    summary="The first rows as they would be imported, with reasons for rejections",
)
def preview(request, job_id: int):
    return actions.preview(_job(request, job_id))


@router.post(
    "/{int:job_id}/start",
    response={202: JobOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    operation_id="import_start",
    summary="Run the import in the background",
)
def start(request, job_id: int):
    return Status(202, actions.start(job=_job(request, job_id), user=request.user))


@router.post(
    "/{int:job_id}/cancel",
    response={200: JobOut, 404: ErrorOut},
    operation_id="import_cancel",
    summary="Stop after the batch under way",
)
def cancel(request, job_id: int):
    return actions.cancel(job=_job(request, job_id), user=request.user)


@router.get(
    "/{int:job_id}/rows",
    response={200: RowPage, 404: ErrorOut, 422: ErrorOut},
    operation_id="import_rows",
    summary="What became of each row",
)
def rows(request, job_id: int, params: Query[ListParams], filters: Query[RowFilter]):
    job = _job(request, job_id)
    _field, descending = parse_ordering(params.ordering, {"row_number": "row_number"}, "row_number")
    after = decode_cursor(ImportRow, "row_number", params.cursor)[0] if params.cursor else None
    results, following = actions.row_page(
        job=job,
        user=request.user,
        outcome=filters.outcome or "",
        after=after,
        descending=descending,
        limit=params.limit,
    )
    next_cursor = encode_cursor(following, 0) if following is not None else None
    return {"results": [r._asdict() for r in results], "next_cursor": next_cursor}


@router.get(
    "/{int:job_id}/rejected.csv",
    response={200: None, 404: ErrorOut},
    operation_id="import_rejected_csv",
    summary="The rejected rows as a CSV file, with a reason column, to fix and import again",
    description="UTF-8 with a BOM (opens in Excel). Uploaded again as it is, it takes the original file's "
    "mapping; cells the download quoted against spreadsheet formulas are unquoted on import.",
)
def rejected_csv(request, job_id: int):
    return actions.rejected_rows_response(_job(request, job_id))
