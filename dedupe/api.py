"""Open API of the duplicate check (/api/v1/duplicates/): check, rules, merge and merge history.

Creates and updates of accounts, contacts and leads run the configured rules themselves: a blocking hit
answers 409 `{"code": "duplicate", …}`, a warning 409 `{"code": "possible_duplicate", …}`; both carry
`candidates` (shape below). Repeat the request with the header `X-Confirm-Duplicates: true` (or
`"confirm_duplicates": true` in the JSON body) to create a record despite a warning.
"""

from __future__ import annotations

from typing import Literal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from core.api import ErrorOut, ListParams, list_page
from core.choices import Action
from core.errors import PermissionDeniedError
from core.ids import Int, whole

from . import actions, service
from .choices import DEDUPE_OBJECTS
from .models import MergeRecord

router = Router(tags=["duplicates"])  # /api/v1/duplicates/

ObjectName = Literal["account", "contact", "lead"]

CANDIDATE_DOC = (
    "Candidates are ranked, best first. A record the caller may see comes with `visible: true`, its `id`, "
    "`name`, `score` (0–100), `url` and owner. A record he may not see comes with `visible: false` and only "
    "`object`, `rule`, `owner_name`, `owner_department` and `message` (“Already exists, owned by 张三 "
    "(华东大区).”): `id`, `name`, `score` and `url` are null, and nothing else about it is revealed."
)


class CandidateOut(Schema):
    object: str = Field(..., description="account, contact or lead")
    visible: bool = Field(..., description="Whether the caller may see the record; if not, only the owner is told.")
    id: int | None = None
    name: str | None = None
    score: int | None = Field(None, description="0–100; 100 for an equal phone, e-mail, credit code or name.")
    rule: str = Field(..., description="The rule that matched best: credit_code, phone, email, name, account_name…")
    rules: list[str] = Field(default_factory=list, description="Every rule that matched this record.")
    action: str = Field(..., description="What the hit does on create: block, warn or allow.")
    field: str = Field(..., description="The input field the hit is about.")
    owner_name: str = ""
    owner_department: str = ""
    url: str | None = None
    message: str


class CheckIn(Schema):
    object: ObjectName
    name: str = Field("", max_length=200, description="Account name, lead company or contact name.")
    phone: str = Field("", max_length=32)
    mobile: str = Field("", max_length=32, description="Contacts: the mobile number.")
    email: str = Field("", max_length=254)
    credit_code: str = Field("", max_length=18, description="Accounts: unified social credit code.")
    account_id: Int | None = Field(None, description="Contacts: the account, for the same-name rule.")
    exclude_id: Int | None = Field(None, description="Checking an existing record: its own id, never a hit.")
    limit: whole(1, 50) = 10


class CheckOut(Schema):
    decision: str = Field(..., description="What creating would do now: none, allow, warn or block.")
    candidates: list[CandidateOut]


class DuplicateErrorOut(ErrorOut):
    candidates: list[CandidateOut] = []


def duplicate_error_handler(request, exc):
    """409 with {code, message, errors, candidates} (installed on the API by dedupe.apps)."""
    from tide.api import api

    body = {
        "code": exc.code,
        "message": str(exc.message),
        "errors": {k: [str(m) for m in v] for k, v in exc.fields.items()},
        "candidates": exc.candidates,
    }
    return api.create_response(request, body, status=exc.status)


def _require_object_access(user, object_type: str) -> None:
    from core.permissions import can

    if not (can(user, object_type, Action.VIEW) or can(user, object_type, Action.CREATE)):
        raise PermissionDeniedError()


@router.post(
    "/check",
    response={200: CheckOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="duplicates_check",
    summary="Check for duplicates before creating a record",
    description=(
        "Runs every active rule of the object (whatever it does on a hit) against the given values and "
        "returns the candidates and what creating the record would do. " + CANDIDATE_DOC + "\n\n"
        "Creating or changing an account, contact or lead runs the rules that block or warn: a block answers "
        '409 `{code: "duplicate", message, errors, candidates}`, a warning 409 `{code: "possible_duplicate", '
        "…}` with candidates of the same shape. Repeat the request with the header `X-Confirm-Duplicates: true` "
        '(or `"confirm_duplicates": true` in the JSON body) to save despite a warning; a block stays.'
    ),
)
def check(request, payload: CheckIn):
    _require_object_access(request.user, payload.object)
    if not any((payload.name, payload.phone, payload.mobile, payload.email, payload.credit_code)):
        raise ValidationError({"name": [_("Enter a name, a phone number, an e-mail address or a credit code.")]})
    probe = service.Probe.build(
        payload.object,
        name=payload.name,
        phone=payload.phone,
        mobile=payload.mobile,
        email=payload.email,
        credit_code=payload.credit_code,
        account_id=payload.account_id,
        exclude_id=payload.exclude_id,
    )
    hits = service.find_duplicates(probe, service.rules_for(payload.object), limit=payload.limit)
    return {"decision": service.decision_of(hits), "candidates": service.present(hits, request.user)}


# --- rules ------------------------------------------------------------------------------------------------


class DuplicateRuleOut(Schema):
    object: str
    kind: str
    label: str
    is_active: bool
    action: str
    threshold: int
    conditions: dict


class DuplicateRuleIn(Schema):
    kind: str
    is_active: bool = True
    action: str = Field("warn", description="block, warn or allow")
    threshold: Int = Field(85, description="Name rules: the lowest similarity that counts, 50–100.")
    conditions: dict = Field(
        default_factory=dict, description="A condition set (core.conditions) on the records compared with."
    )


class RulesIn(Schema):
    rules: list[DuplicateRuleIn]


def _rules_out(object_type: str) -> list[dict]:
    from .choices import RuleKind

    return [
        {
            "object": r.object_type,
            "kind": r.kind,
            "label": str(RuleKind(r.kind).label),
            "is_active": r.is_active,
            "action": r.action,
            "threshold": r.threshold,
            "conditions": r.conditions,
        }
        for r in service.rules_for(object_type)
    ]


@router.get(
    "/rules", response=list[DuplicateRuleOut], operation_id="duplicates_rules_list", summary="List duplicate rules"
)
def list_rules(request, object: ObjectName | None = None):
    types = [object] if object else list(DEDUPE_OBJECTS)
    return [row for t in types for row in _rules_out(t)]


@router.put(
    "/rules/{object}",
    response={200: list[DuplicateRuleOut], 403: ErrorOut, 422: ErrorOut},
    operation_id="duplicates_rules_update",
    summary="Change the duplicate rules of one object (administrators)",
)
def update_rules(request, object: ObjectName, payload: RulesIn):
    actions.save_rules(user=request.user, object_type=object, rules=[r.model_dump() for r in payload.rules])
    return _rules_out(object)


# --- merge --------------------------------------------------------------------------------------------------


class MergeIn(Schema):
    object: ObjectName
    survivor_id: Int = Field(..., description="The record that stays (you need edit permission on it).")
    loser_id: Int = Field(..., description="The record merged away and deleted (you need delete permission).")
    picks: dict[str, Literal["survivor", "loser"]] = Field(
        default_factory=dict,
        description="Per differing field (see the preview), whose value survives; the survivor's by default.",
    )


class MergeFieldOut(Schema):
    field: str
    label: str
    survivor: str
    loser: str
    kept: str
    differs: bool


class MergeOut(Schema):
    id: int
    object: str
    survivor_id: int
    loser_id: int
    survivor_name: str
    loser_name: str
    merged_by: str
    merged_at: str
    picks: dict[str, str]
    fields: list[MergeFieldOut]
    moved: dict[str, int] = Field(
        description="What moved to the survivor, by stable key: a model (`followups.followup`, "
        "`contacts.contact` …), `children`, `team` or `history`, with how many"
    )


class PreviewFieldOut(Schema):
    key: str
    label: str
    survivor: str
    loser: str
    differs: bool


class MergePage(Schema):
    results: list[MergeOut]
    next_cursor: str | None = None


def _merge_out(record: MergeRecord) -> dict:
    return {
        "id": record.pk,
        "object": record.object_type,
        "survivor_id": record.survivor_id,
        "loser_id": record.loser_id,
        "survivor_name": record.survivor_repr,
        "loser_name": record.loser_repr,
        "merged_by": str(record.actor or ""),
        "merged_at": record.at.isoformat(),
        "picks": record.picks,
        "fields": [
            {k: row.get(k, "") for k in ("field", "label", "survivor", "loser", "kept")}
            | {"differs": bool(row.get("differs"))}
            for row in record.fields_display()
        ],
        "moved": record.moved,
    }


@router.get(
    "/merge/preview",
    response={200: list[PreviewFieldOut], 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    operation_id="duplicates_merge_preview",
    summary="The fields of two records side by side, before merging them",
)
def merge_preview(request, object: ObjectName, survivor_id: int, loser_id: int):
    survivor, loser = actions.load_pair(
        object_type=object, user=request.user, survivor_id=survivor_id, loser_id=loser_id
    )
    return actions.merge_preview(object_type=object, survivor=survivor, loser=loser)


@router.post(
    "/merge",
    response={200: MergeOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    operation_id="duplicates_merge",
    summary="Merge two accounts, contacts or leads",
    description=(
        "The survivor keeps every follow-up, opportunity, contact, child account, team member and history "
        "entry of both; the loser is deleted (recycle bin) and recorded as merged into the survivor. "
        "409 `merge_accounts_differ`: contacts of different accounts cannot be merged; 409 `merge_conflict`: "
        "both records have a one-per-record link that cannot be combined."
    ),
)
def merge(request, payload: MergeIn):
    record = actions.merge_records(
        object_type=payload.object,
        user=request.user,
        survivor_id=payload.survivor_id,
        loser_id=payload.loser_id,
        picks=payload.picks,
    )
    return _merge_out(record)


class MergeFilter(Schema):
    object: ObjectName | None = None


@router.get("/merges", response=MergePage, operation_id="duplicates_merges_list", summary="Merge history")
def list_merges(request, params: Query[ListParams], filters: Query[MergeFilter]):
    qs = actions.visible_merges(request.user)
    if filters.object:
        qs = qs.filter(object_type=filters.object)
    page = list_page(qs, params, {"at": "at"}, default="-at")
    return {"results": [_merge_out(r) for r in page["results"]], "next_cursor": page["next_cursor"]}


@router.get(
    "/merges/{int:merge_id}",
    response={200: MergeOut, 404: ErrorOut},
    operation_id="duplicates_merge_get",
    summary="One merge",
)
def get_merge(request, merge_id: int):
    from django.shortcuts import get_object_or_404

    return _merge_out(get_object_or_404(actions.visible_merges(request.user), pk=merge_id))
