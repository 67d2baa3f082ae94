"""Open API of assignment rules, territories, caps and qualification settings (administrators),
and, under /api/v1/leads/, the re-run of the rules, the qualification of a lead and its conversion."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from core import actions as core_actions
from core import hooks
from core.api import ErrorOut, etag_for, expected_version
from core.choices import Action
from core.errors import DomainError, NotFoundError, validation_error_fields
from core.ids import MAX_COUNT, Id, Int, whole
from org.permissions import require_admin

from . import actions
from .models import AssignmentRule, LeadLimit, QualificationFact, QualificationLevel, Territory

MAX_ORDER = 1_000_000  # positions: room for every rule many times over, far from the column's limit

router = Router(tags=["assignment"])  # /api/v1/assignment/
lead_router = Router(tags=["leads"])  # conversion and qualification under /api/v1/leads/


def _renamed(error: ValidationError, names: dict[str, str]) -> ValidationError:
    """Name errors after the API's fields: the rule's `members` are `member_ids` on the wire."""
    fields = validation_error_fields(error)
    return ValidationError({names.get(k, k): v for k, v in fields.items()})


def _get(model, pk):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise NotFoundError()
    return obj


def _admin(request) -> None:
    require_admin(request.user)


def _lookup(model, pk, field: str):
    if pk is None:
        return None
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise ValidationError({field: [_("Select a valid choice. That choice is not one of the available choices.")]})
    return obj


# --- rules ----------------------------------------------------------------------------------

RULE_NAMES = {"members": "member_ids", "pool": "pool_id"}


class RuleOut(Schema):
    id: int
    name: str
    order: int
    is_active: bool
    conditions: dict[str, Any]
    strategy: str
    member_ids: list[int]
    pool_id: int | None = None
    max_open_leads: int | None = None
    version: int

    @staticmethod
    def resolve_member_ids(obj):
        return [u.pk for u in obj.ordered_members()]


class RuleIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    order: whole(0, MAX_ORDER) | None = Field(
        None, description="Position; rules are tried from the lowest. Defaults to last."
    )
    is_active: bool = True
    conditions: dict[str, Any] = Field(
        default_factory=dict, description="Condition set over lead fields and facts; empty matches every lead."
    )
    strategy: str = Field(..., description="users, round_robin, least_loaded, territory or pool.")
    member_ids: list[Id] = Field(default_factory=list, description="Users in their fixed order.")
    pool_id: Int | None = Field(None, description="For the pool strategy.")
    max_open_leads: whole(0, MAX_COUNT) | None = Field(None, description="Skip users holding this many open leads.")


class RulePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    order: whole(0, MAX_ORDER) | None = None
    is_active: bool | None = None
    conditions: dict[str, Any] | None = None
    strategy: str | None = None
    member_ids: list[Id] | None = None
    pool_id: Int | None = None
    max_open_leads: whole(0, MAX_COUNT) | None = None


class MoveIn(Schema):
    direction: str = Field(..., description="up or down")


def _rule_data(payload, partial: bool) -> tuple[dict, list | None]:
    from pools.models import Pool

    raw = payload.model_dump(exclude_unset=partial)
    member_ids = raw.pop("member_ids", None)
    if "pool_id" in raw:
        raw["pool"] = _lookup(Pool, raw.pop("pool_id"), "pool_id")
    if partial:
        for key in ("name", "is_active", "strategy", "conditions", "order"):
            if key in raw and raw[key] is None:
                raw.pop(key)
    return raw, member_ids


@router.get("/rules", response={200: list[RuleOut], 403: ErrorOut}, operation_id="assignment_rule_list")
def list_rules(request):
    """Assignment rules in the order they are tried."""
    _admin(request)
    return list(AssignmentRule.objects.prefetch_related("memberships__user").order_by("order", "id"))


@router.post("/rules", response={201: RuleOut, 403: ErrorOut, 422: ErrorOut}, operation_id="assignment_rule_create")
def create_rule(request, payload: RuleIn, response: HttpResponse):
    _admin(request)
    try:
        data, member_ids = _rule_data(payload, partial=False)
        rule = actions.create_rule(user=request.user, data=data, member_ids=member_ids or [])
    except ValidationError as error:
        raise _renamed(error, RULE_NAMES) from None
    response["ETag"] = etag_for(rule)
    return Status(201, rule)


@router.get(
    "/rules/{int:rule_id}", response={200: RuleOut, 403: ErrorOut, 404: ErrorOut}, operation_id="assignment_rule_get"
)
def get_rule(request, rule_id: int, response: HttpResponse):
    _admin(request)
    rule = _get(AssignmentRule, rule_id)
    response["ETag"] = etag_for(rule)
    return rule


@router.patch(
    "/rules/{int:rule_id}",
    response={200: RuleOut, 403: ErrorOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    operation_id="assignment_rule_update",
)
def update_rule(request, rule_id: int, payload: RulePatch, response: HttpResponse):
    _admin(request)
    rule = _get(AssignmentRule, rule_id)
    try:
        data, member_ids = _rule_data(payload, partial=True)
        rule = actions.update_rule(
            rule=rule, user=request.user, data=data, member_ids=member_ids, expected_version=expected_version(request)
        )
    except ValidationError as error:
        raise _renamed(error, RULE_NAMES) from None
    response["ETag"] = etag_for(rule)
    return rule


@router.delete(
    "/rules/{int:rule_id}", response={204: None, 403: ErrorOut, 404: ErrorOut}, operation_id="assignment_rule_delete"
)
def delete_rule(request, rule_id: int):
    _admin(request)
    actions.delete_rule(rule=_get(AssignmentRule, rule_id), user=request.user)
    return Status(204, None)


@router.post(
    "/rules/{int:rule_id}/move",
    response={200: list[RuleOut], 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    operation_id="assignment_rule_move",
)
def move_rule(request, rule_id: int, payload: MoveIn):
    """Move a rule one place up or down; answers the rules in their new order."""
    _admin(request)
    actions.move_rule(rule=_get(AssignmentRule, rule_id), user=request.user, direction=payload.direction)
    return list(AssignmentRule.objects.prefetch_related("memberships__user").order_by("order", "id"))


# --- territories ----------------------------------------------------------------------------

TERRITORY_NAMES = {"members": "member_ids", "department": "department_id"}


class TerritoryOut(Schema):
    id: int
    name: str
    department_id: int | None = None
    member_ids: list[int]
    regions: list[str]
    distribution: str
    is_active: bool
    version: int

    @staticmethod
    def resolve_member_ids(obj):
        return [u.pk for u in obj.ordered_members()]

    @staticmethod
    def resolve_regions(obj):
        return obj.codes()


class TerritoryIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    department_id: Int | None = Field(None, description="Its active members (and sub-departments') share the leads.")
    member_ids: list[Id] = Field(default_factory=list, description="Or these users, in this order.")
    regions: list[str] = Field(..., description="Province (2 digits), city (4) or district (6) codes.")
    distribution: str = Field("round_robin", description="round_robin or least_loaded")
    is_active: bool = True


class TerritoryPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    department_id: Int | None = None
    member_ids: list[Id] | None = None
    regions: list[str] | None = None
    distribution: str | None = None
    is_active: bool | None = None


def _territory_data(payload, partial: bool) -> tuple[dict, list | None, list | None]:
    from org.models import Department

    raw = payload.model_dump(exclude_unset=partial)
    member_ids = raw.pop("member_ids", None)
    codes = raw.pop("regions", None)
    if "department_id" in raw:
        raw["department"] = _lookup(Department, raw.pop("department_id"), "department_id")
    if partial:
        for key in ("name", "distribution", "is_active"):
            if key in raw and raw[key] is None:
                raw.pop(key)
    return raw, member_ids, codes


def _territories():
    return Territory.objects.select_related("department").prefetch_related("memberships__user", "regions")


@router.get("/territories", response={200: list[TerritoryOut], 403: ErrorOut}, operation_id="territory_list")
def list_territories(request):
    _admin(request)
    return list(_territories())


@router.post(
    "/territories", response={201: TerritoryOut, 403: ErrorOut, 422: ErrorOut}, operation_id="territory_create"
)
def create_territory(request, payload: TerritoryIn):
    _admin(request)
    try:
        data, member_ids, codes = _territory_data(payload, partial=False)
        territory = actions.create_territory(user=request.user, data=data, member_ids=member_ids or [], codes=codes)
    except ValidationError as error:
        raise _renamed(error, TERRITORY_NAMES) from None
    return Status(201, _territories().get(pk=territory.pk))


@router.get(
    "/territories/{int:territory_id}",
    response={200: TerritoryOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="territory_get",
)
def get_territory(request, territory_id: int, response: HttpResponse):
    _admin(request)
    territory = _get(Territory, territory_id)
    response["ETag"] = etag_for(territory)
    return territory


@router.patch(
    "/territories/{int:territory_id}",
    response={200: TerritoryOut, 403: ErrorOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    operation_id="territory_update",
)
def update_territory(request, territory_id: int, payload: TerritoryPatch, response: HttpResponse):
    _admin(request)
    territory = _get(Territory, territory_id)
    try:
        data, member_ids, codes = _territory_data(payload, partial=True)
        territory = actions.update_territory(
            territory=territory,
            user=request.user,
            data=data,
            member_ids=member_ids,
            codes=codes,
            expected_version=expected_version(request),
        )
    except ValidationError as error:
        raise _renamed(error, TERRITORY_NAMES) from None
    response["ETag"] = etag_for(territory)
    return _territories().get(pk=territory.pk)


@router.delete(
    "/territories/{int:territory_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    operation_id="territory_delete",
)
def delete_territory(request, territory_id: int):
    _admin(request)
    actions.delete_territory(territory=_get(Territory, territory_id), user=request.user)
    return Status(204, None)


# --- per-user caps --------------------------------------------------------------------------


class LimitOut(Schema):
    user_id: int
    user_name: str
    max_open_leads: int

    @staticmethod
    def resolve_user_name(obj):
        return str(obj.user)


class LimitIn(Schema):
    max_open_leads: whole(0, MAX_COUNT) | None = Field(..., description="null removes the cap.")


@router.get("/limits", response={200: list[LimitOut], 403: ErrorOut}, operation_id="lead_limit_list")
def list_limits(request):
    """Per-user caps of open leads that every rule respects."""
    _admin(request)
    return list(LeadLimit.objects.select_related("user"))


@router.put(
    "/limits/{int:user_id}",
    response={200: LimitOut, 204: None, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    operation_id="lead_limit_set",
)
def set_limit(request, user_id: int, payload: LimitIn):
    from org.models import User

    _admin(request)
    target = _get(User, user_id)
    limit = actions.set_lead_limit(user=request.user, target=target, max_open_leads=payload.max_open_leads)
    return Status(204, None) if limit is None else limit


# --- qualification settings -----------------------------------------------------------------


class FactOut(Schema):
    id: int
    code: str
    label: str
    help: str
    order: int
    is_active: bool
    version: int


class FactIn(Schema):
    code: str = Field(..., max_length=40, description="Lower-case letters, digits, underscores; fact:code in criteria.")
    label: str = Field(..., min_length=1, max_length=100)
    help: str = Field("", max_length=300)
    order: whole(0, MAX_ORDER) | None = None
    is_active: bool = True


class FactPatch(Schema):
    label: str | None = Field(None, min_length=1, max_length=100)
    help: str | None = Field(None, max_length=300)
    order: whole(0, MAX_ORDER) | None = None
    is_active: bool | None = None


class LevelOut(Schema):
    id: int
    name: str
    order: int
    conditions: dict[str, Any]
    lead_status: str
    is_active: bool
    version: int


class LevelIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    order: whole(0, MAX_ORDER) | None = None
    conditions: dict[str, Any] = Field(default_factory=dict, description="Criteria over facts (fact:code) and fields.")
    lead_status: str = Field("", description="Empty, contacted or qualified.")
    is_active: bool = True


class LevelPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    order: whole(0, MAX_ORDER) | None = None
    conditions: dict[str, Any] | None = None
    lead_status: str | None = None
    is_active: bool | None = None


def _set(payload) -> dict:
    return {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}


@router.get(
    "/qualification/facts", response={200: list[FactOut], 403: ErrorOut}, operation_id="qualification_fact_list"
)
def list_facts(request):
    _admin(request)
    return list(QualificationFact.objects.order_by("order", "id"))


@router.post(
    "/qualification/facts",
    response={201: FactOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="qualification_fact_create",
)
def create_fact(request, payload: FactIn):
    _admin(request)
    data = payload.model_dump()
    if data.get("order") is None:
        data.pop("order")
    return Status(201, actions.create_fact(user=request.user, data=data))


@router.patch(
    "/qualification/facts/{int:fact_id}",
    response={200: FactOut, 403: ErrorOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    operation_id="qualification_fact_update",
)
def update_fact(request, fact_id: int, payload: FactPatch):
    _admin(request)
    fact = _get(QualificationFact, fact_id)
    return actions.update_fact(
        fact=fact, user=request.user, data=_set(payload), expected_version=expected_version(request)
    )


@router.delete(
    "/qualification/facts/{int:fact_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="qualification_fact_delete",
)
def delete_fact(request, fact_id: int):
    _admin(request)
    actions.delete_fact(fact=_get(QualificationFact, fact_id), user=request.user)
    return Status(204, None)


@router.get(
    "/qualification/levels", response={200: list[LevelOut], 403: ErrorOut}, operation_id="qualification_level_list"
)
def list_levels(request):
    _admin(request)
    return list(QualificationLevel.objects.order_by("order", "id"))


@router.post(
    "/qualification/levels",
    response={201: LevelOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="qualification_level_create",
)
def create_level(request, payload: LevelIn):
    _admin(request)
    data = payload.model_dump()
    if data.get("order") is None:
        data.pop("order")
    return Status(201, actions.create_level(user=request.user, data=data))


@router.patch(
    "/qualification/levels/{int:level_id}",
    response={200: LevelOut, 403: ErrorOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    operation_id="qualification_level_update",
)
def update_level(request, level_id: int, payload: LevelPatch):
    _admin(request)
    level = _get(QualificationLevel, level_id)
    data = payload.model_dump(exclude_unset=True)
    data = {k: v for k, v in data.items() if v is not None or k == "lead_status"}
    if data.get("lead_status") is None and "lead_status" in data:
        data["lead_status"] = ""
    return actions.update_level(level=level, user=request.user, data=data, expected_version=expected_version(request))


@router.delete(
    "/qualification/levels/{int:level_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    operation_id="qualification_level_delete",
)
def delete_level(request, level_id: int):
    _admin(request)
    actions.delete_level(level=_get(QualificationLevel, level_id), user=request.user)
    return Status(204, None)


# --- under /api/v1/leads/: re-run, qualification, conversion --------------------------------


class RerunIn(Schema):
    ids: list[Id] = Field(..., min_length=1, max_length=actions.MAX_RERUN)


class DecisionOut(Schema):
    lead_id: int
    rule_id: int | None = None
    rule_name: str = ""
    territory_id: int | None = None
    owner_id: int | None = None
    pool_id: int | None = None
    changed: bool


class RerunOut(Schema):
    changed: int
    unchanged: int
    skipped: int = Field(..., description="Leads not open any more (converted or invalid), left alone.")
    results: list[DecisionOut]


@lead_router.post(
    "/assign",
    response={200: RerunOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="lead_assign",
    summary="Run the assignment rules again on chosen leads",
)
def rerun(request, payload: RerunIn):
    """Open leads among `ids` go where the rules send them now; the new owners are notified.
    Needs the transfer permission on every chosen lead."""
    return actions.rerun_assignment(ids=payload.ids, user=request.user)


class FactValueOut(Schema):
    code: str
    label: str
    help: str
    value: bool


class LevelRefOut(Schema):
    id: int
    name: str
    lead_status: str


class LevelResultOut(Schema):
    id: int
    name: str
    order: int
    lead_status: str
    holds: bool = Field(..., description="This level's own criteria hold.")
    reached: bool = Field(..., description="This level's criteria and those of every level before it hold.")
    criteria: dict[str, Any] = Field(..., description="The criteria tree with `holds` on every group and condition.")


class QualificationOut(Schema):
    lead_id: int
    status: str
    version: int
    level: LevelRefOut | None = None
    levels: list[LevelResultOut]
    facts: list[FactValueOut]


class FactsIn(Schema):
    facts: dict[str, bool] = Field(..., description='Facts to tick or untick, e.g. {"has_project": true}.')


def _qualification(lead) -> dict:
    from leads.actions import lead_qualification

    return {"lead_id": lead.pk, "status": lead.status, "version": lead.version, **lead_qualification(lead=lead)}


@lead_router.get(
    "/{int:lead_id}/qualification",
    response={200: QualificationOut, 404: ErrorOut},
    operation_id="lead_qualification_get",
    summary="Which qualification level a lead reaches, criterion by criterion",
)
def get_qualification(request, lead_id: int, response: HttpResponse):
    from leads.models import Lead

    lead = core_actions.get_for(Lead, request.user, Action.VIEW, lead_id)
    response["ETag"] = etag_for(lead)
    return _qualification(lead)


@lead_router.patch(
    "/{int:lead_id}/qualification",
    response={200: QualificationOut, 403: ErrorOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    operation_id="lead_qualification_update",
    summary="Tick or untick a lead's qualification facts",
)
def update_qualification(request, lead_id: int, payload: FactsIn, response: HttpResponse):
    """Reaching a level that names a status moves an open lead on to it. Send `If-Match` to detect conflicts."""
    from leads.actions import set_lead_facts
    from leads.models import Lead

    lead = core_actions.get_for(Lead, request.user, Action.EDIT, lead_id)
    lead = set_lead_facts(lead=lead, user=request.user, facts=payload.facts, expected_version=expected_version(request))
    response["ETag"] = etag_for(lead)
    return _qualification(lead)


class ConvertAccountIn(Schema):
    name: str | None = Field(None, max_length=200, description="Defaults to the lead's company.")
    short_name: str | None = Field(None, max_length=60)
    credit_code: str | None = Field(None, max_length=18)
    industry: str | None = None
    grade: str | None = None
    account_type: str | None = None
    province_code: str | None = None
    city_code: str | None = None
    district_code: str | None = None
    address: str | None = Field(None, max_length=300)
    phone: str | None = Field(None, max_length=32)
    website: str | None = Field(None, max_length=200)
    notes: str | None = None
    owner_id: Int | None = Field(None, description="Defaults to the lead's owner (or you).")


class ConvertContactIn(Schema):
    name: str | None = Field(None, max_length=60, description="Defaults to the lead's contact person.")
    title: str | None = Field(None, max_length=60)
    department: str | None = Field(None, max_length=60)
    mobile: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=32)
    email: str | None = None
    wechat: str | None = Field(None, max_length=60)
    buying_role: str | None = None
    notes: str | None = None
    owner_id: Int | None = None


class ConvertOpportunityIn(Schema):
    name: str | None = Field(None, max_length=200, description="Defaults to the lead's company.")
    amount: Decimal | None = Field(None, ge=0)
    expected_close_date: datetime.date | None = Field(None, description="Defaults to 90 days from today.")
    stage_id: Int | None = Field(None, description="Defaults to the first open stage.")
    notes: str | None = None
    owner_id: Int | None = None


class ConvertIn(Schema):
    account_id: Int | None = Field(None, description="An existing account you can see…")
    account: ConvertAccountIn | None = Field(None, description="…or a new one (fields default to the lead's).")
    contact: ConvertContactIn | None = Field(None, description="The new contact (fields default to the lead's).")
    opportunity: ConvertOpportunityIn | None = Field(None, description="Send an object to create an opportunity.")


class ConvertOut(Schema):
    lead_id: int
    status: str
    account_id: int
    contact_id: int
    opportunity_id: int | None = None
    converted_at: datetime.datetime


def _given(part) -> dict:
    return {} if part is None else {k: v for k, v in part.model_dump(exclude_unset=True).items() if v is not None}


@lead_router.post(
    "/{int:lead_id}/convert",
    response={200: ConvertOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    operation_id="lead_convert",
    summary="Convert a lead into an account, a contact and optionally an opportunity",
)
def convert(request, lead_id: int, payload: ConvertIn):
    """One step, one transaction: nothing is created when any part fails. Errors name the part,
    e.g. `contact.name`. A converted lead answers 409 `lead_already_converted`."""
    from leads.actions import convert_lead
    from leads.models import Lead

    lead = core_actions.get_for(Lead, request.user, Action.VIEW, lead_id)
    opportunity = None if payload.opportunity is None else _given(payload.opportunity)
    try:
        with hooks.check_options(**hooks.options_from_request(request)):
            lead = convert_lead(
                lead=lead,
                user=request.user,
                account=payload.account_id,
                account_data=_given(payload.account),
                contact_data=_given(payload.contact),
                opportunity_data=opportunity,
            )
    except ValidationError as error:
        if isinstance(error, DomainError):  # a duplicate: 409 with candidates; confirm with X-Confirm-Duplicates
            raise
        fields = validation_error_fields(error)
        if payload.account_id is not None:  # the chosen account is `account_id` on the wire
            fields = {("account_id" if k == "account" else k): v for k, v in fields.items()}
        raise ValidationError(fields) from None
    return {
        "lead_id": lead.pk,
        "status": lead.status,
        "account_id": lead.converted_account_id,
        "contact_id": lead.converted_contact_id,
        "opportunity_id": lead.converted_opportunity_id,
        "converted_at": lead.converted_at,
    }
