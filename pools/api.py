"""Public pools in the Open API: pool settings and rules (administrators), the records waiting in a pool
(members), claim / release under /leads/ and /accounts/, assignment, the rep's due-for-recycling list and
the holiday calendar. Handlers translate HTTP to pools.actions; the actions hold every rule."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from core.api import ErrorOut, ListParams, api_field_errors, list_page
from core.errors import NotFoundError
from core.ids import Id, Int
from core.regions import regions

from . import actions
from .choices import PoolObjectType
from .models import HolidayCalendar, Pool, RecyclingRule

router = Router(tags=["pools"])  # /api/v1/pools/
lead_router = Router(tags=["pools"])  # claim/release under /api/v1/leads/
account_router = Router(tags=["pools"])  # claim/release under /api/v1/accounts/

RECORD_ORDERINGS = {"created_at": "created_at"}


# --- schemas ------------------------------------------------------------------------------------------


class PoolOut(Schema):
    id: int
    name: str
    object_type: str
    description: str
    is_active: bool
    daily_claim_limit: int | None
    ownership_limit: int | None
    cooldown_days: int
    reminder_days: int
    remind_manager: bool
    recycles_unpooled: bool
    member_department_ids: list[int]
    member_user_ids: list[int]
    admin_ids: list[int]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    is_member: bool = Field(description="The caller may claim from this pool.")
    is_admin: bool = Field(description="The caller may change the pool and assign its records.")
    claims_left_today: int | None = Field(None, description="For members: claims left today (null: no limit).")
    ownership_left: int | None = Field(None, description="For members: records he may still own (null: no limit).")


class PoolIn(Schema):
    name: str = Field(..., max_length=60)
    object_type: str = Field(..., description="`lead` or `account`.")
    description: str = Field("", max_length=300)
    is_active: bool = True
    daily_claim_limit: Int | None = Field(None, description="Claims per user per day; null: no limit.")
    ownership_limit: Int | None = Field(None, description="Records of this kind a user may own at once; null: none.")
    cooldown_days: Int = Field(0, description="Days before a previous owner may claim the same record again.")
    reminder_days: Int = Field(3, description="Remind owners this many days before recycling; 0: never.")
    remind_manager: bool = False
    recycles_unpooled: bool = False
    member_department_ids: list[Id] = Field([], description="Members: these departments and everything below.")
    member_user_ids: list[Id] = []
    admin_ids: list[Id] | None = Field(None, description="Defaults to the caller.")


class PoolPatch(Schema):
    name: str | None = Field(None, max_length=60)
    object_type: str | None = None
    description: str | None = Field(None, max_length=300)
    is_active: bool | None = None
    daily_claim_limit: Int | None = None
    ownership_limit: Int | None = None
    cooldown_days: Int | None = None
    reminder_days: Int | None = None
    remind_manager: bool | None = None
    recycles_unpooled: bool | None = None
    member_department_ids: list[Id] | None = None
    member_user_ids: list[Id] | None = None
    admin_ids: list[Id] | None = None


class PoolRuleOut(Schema):
    id: int
    pool_id: int
    name: str
    kind: str
    days: int
    grade_days: dict[str, int]
    day_count: str
    exempt_locked: bool
    exempt_open_opportunity: bool
    conditions: dict[str, Any]
    is_active: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime


class PoolRuleIn(Schema):
    name: str = Field(..., max_length=100)
    kind: str = Field(
        ..., description="`no_followup`, `not_converted` (leads), `no_opportunity`, `not_won` (accounts)."
    )
    days: Int = Field(..., description="N: recycle after N days.")
    grade_days: dict[str, Any] = Field({}, description='Accounts: N per grade, e.g. {"A": 60, "B": 30}.')
    day_count: str = Field("calendar", description="`calendar` or `working` (China's working days).")
    exempt_locked: bool = True
    exempt_open_opportunity: bool = True
    conditions: dict[str, Any] = Field({}, description="Only records matching this condition set; {}: all.")
    is_active: bool = True


class PoolRulePatch(Schema):
    name: str | None = Field(None, max_length=100)
    kind: str | None = None
    days: Int | None = None
    grade_days: dict[str, Any] | None = None
    day_count: str | None = None
    exempt_locked: bool | None = None
    exempt_open_opportunity: bool | None = None
    conditions: dict[str, Any] | None = None
    is_active: bool | None = None


class PoolRecordOut(Schema):
    id: int
    object_type: str
    title: str
    contact_name: str = ""
    industry: str
    region: str
    status: str
    source: str = ""
    grade: str = ""
    created_at: datetime.datetime
    pool_entered_at: datetime.datetime | None


class PoolRecordPage(Schema):
    results: list[PoolRecordOut]
    next_cursor: str | None = None


class PoolRecordFilter(Schema):
    q: str | None = Field(
        None,
        max_length=100,
        description="Search by name: characters, pinyin or initials (not phone or e-mail, shown only after claiming).",
    )


class ClaimOut(Schema):
    id: int
    owner_id: int | None
    owner_name: str
    pool_id: int | None
    is_locked: bool
    version: int


class ReleaseIn(Schema):
    reason: str = Field(
        ...,
        description="no_need, unreachable, not_decision_maker, has_supplier, wrong_info, out_of_territory, other",
    )
    note: str = Field("", max_length=300, description="Required when the reason is `other`.")
    pool_id: Int | None = Field(None, description="Only for a record that was never in a pool.")


class AssignIn(Schema):
    ids: list[Id] = Field(..., min_length=1, max_length=actions.MAX_ASSIGN)
    user_id: Int


class CountOut(Schema):
    count: int


class DueOut(Schema):
    object_type: str
    id: int
    title: str
    pool_id: int
    pool_name: str
    rule_id: int
    rule_name: str
    due_date: datetime.date
    url: str


class DueList(Schema):
    results: list[DueOut]


class HolidayOut(Schema):
    date: datetime.date
    is_workday: bool
    name: str
    source: str


class HolidayIn(Schema):
    date: datetime.date
    is_workday: bool = Field(..., description="true: a make-up working day (调休); false: a day off.")
    name: str = Field("", max_length=60)


class HolidayList(Schema):
    results: list[HolidayOut]


# --- helpers ------------------------------------------------------------------------------------------


def pool_out(pool: Pool, user, *, member_of: set | None = None, administered: set | None = None) -> dict:
    """The pool as the caller sees it; lists pass the caller's pool ids so that no pool costs extra queries."""
    is_member = pool.pk in member_of if member_of is not None else pool.is_member(user)
    out = {
        "id": pool.pk,
        "name": pool.name,
        "object_type": pool.object_type,
        "description": pool.description,
        "is_active": pool.is_active,
        "daily_claim_limit": pool.daily_claim_limit,
        "ownership_limit": pool.ownership_limit,
        "cooldown_days": pool.cooldown_days,
        "reminder_days": pool.reminder_days,
        "remind_manager": pool.remind_manager,
        "recycles_unpooled": pool.recycles_unpooled,
        "member_department_ids": sorted(d.pk for d in pool.member_departments.all()),
        "member_user_ids": sorted(u.pk for u in pool.member_users.all()),
        "admin_ids": sorted(u.pk for u in pool.admins.all()),
        "created_at": pool.created_at,
        "updated_at": pool.updated_at,
        "is_member": is_member,
        "is_admin": pool.pk in administered if administered is not None else pool.is_admin(user),
    }
    if is_member and member_of is None:  # one pool: say how many claims are left
        out.update(actions.claim_state(pool, user))
    return out


def record_out(record) -> dict:
    is_lead = record.object_type == PoolObjectType.LEAD
    return {
        "id": record.pk,
        "object_type": record.object_type,
        "title": record.company if is_lead else record.name,
        "contact_name": record.contact_name if is_lead else "",
        "industry": record.industry,
        "region": regions().label(record.province_code, record.city_code, record.district_code),
        "status": record.status,
        "source": record.source if is_lead else "",
        "grade": "" if is_lead else record.grade,
        "created_at": record.created_at,
        "pool_entered_at": record.pool_entered_at,
    }


def claim_out(record) -> dict:
    return {
        "id": record.pk,
        "owner_id": record.owner_id,
        "owner_name": str(record.owner) if record.owner_id else "",
        "pool_id": record.pool_id,
        "is_locked": record.is_locked,
        "version": record.version,
    }


def get_pool(request: HttpRequest, pool_id: int) -> Pool:
    """A pool the caller belongs to or administers; any other answers 404."""
    pool = Pool.objects.for_user(request.user).filter(pk=pool_id).first()
    if pool is None:
        raise NotFoundError()
    return pool


def _fields(payload, *, partial: bool) -> tuple[dict, dict]:
    raw = payload.model_dump(exclude_unset=partial)
    members = {k: raw.pop(k) for k in ("member_department_ids", "member_user_ids", "admin_ids") if k in raw}
    if partial:
        for key in ("member_department_ids", "member_user_ids", "admin_ids"):
            if key in members and members[key] is None:
                raise ValidationError({key: [_("This field may not be null.")]})
    for key in ("name", "object_type", "description"):
        if key in raw and raw[key] is None:
            raise ValidationError({key: [_("This field may not be null.")]})
    return raw, members


# --- pools ----------------------------------------------------------------------------------------------


@router.get(
    "/",
    response=list[PoolOut],
    operation_id="pool_list",
    summary="List the pools you belong to or administer",
    description="`claims_left_today` and `ownership_left` come with GET /pools/{id}.",
)
def list_pools(request, object_type: str | None = None):
    user = request.user
    pools = Pool.objects.for_user(user).order_by("object_type", "name")
    if object_type:
        pools = pools.filter(object_type=object_type)
    pools = pools.prefetch_related("member_departments", "member_users", "admins")
    member_of = set(Pool.objects.member_of(user).values_list("pk", flat=True))
    administered = set(Pool.objects.administered_by(user).values_list("pk", flat=True))
    return [pool_out(p, user, member_of=member_of, administered=administered) for p in pools]


@router.post(
    "/",
    response={201: PoolOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="pool_create",
    summary="Create a pool (administrators)",
)
def create_pool(request, payload: PoolIn):
    data, members = _fields(payload, partial=False)
    try:
        pool = actions.create_pool(user=request.user, data=data, **members)
    except ValidationError as error:
        raise api_field_errors(PoolIn, error) from None
    return Status(201, pool_out(pool, request.user))


@router.get("/{int:pool_id}", response={200: PoolOut, 404: ErrorOut}, operation_id="pool_get", summary="Get one pool")
def get_one_pool(request, pool_id: int):
    return pool_out(get_pool(request, pool_id), request.user)


@router.patch(
    "/{int:pool_id}",
    response={200: PoolOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    operation_id="pool_update",
    summary="Change a pool's settings, limits, members or administrators",
)
def update_pool(request, pool_id: int, payload: PoolPatch):
    pool = get_pool(request, pool_id)
    data, members = _fields(payload, partial=True)
    try:
        pool = actions.update_pool(pool=pool, user=request.user, data=data, **members)
    except ValidationError as error:
        raise api_field_errors(PoolPatch, error) from None
    return pool_out(pool, request.user)


@router.delete(
    "/{int:pool_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    operation_id="pool_delete",
    summary="Delete an empty pool (administrators)",
)
def delete_pool(request, pool_id: int):
    actions.delete_pool(pool=get_pool(request, pool_id), user=request.user)
    return Status(204, None)


@router.get(
    "/{int:pool_id}/records",
    response={200: PoolRecordPage, 404: ErrorOut, 422: ErrorOut},
    operation_id="pool_records",
    summary="Records waiting in a pool (members and administrators)",
)
def pool_records(request, pool_id: int, params: Query[ListParams], filters: Query[PoolRecordFilter]):
    pool = get_pool(request, pool_id)
    qs = pool.open_records()
    if filters.q:
        from search.backends import filter_matching_names

        qs = filter_matching_names(qs, filters.q)
    page = list_page(qs, params, RECORD_ORDERINGS)
    return {"results": [record_out(r) for r in page["results"]], "next_cursor": page["next_cursor"]}


@router.post(
    "/{int:pool_id}/assign",
    response={200: CountOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    operation_id="pool_assign",
    summary="Assign records waiting in the pool to a member (pool administrators)",
)
def assign(request, pool_id: int, payload: AssignIn):
    from org.models import User

    pool = get_pool(request, pool_id)
    member = User.objects.filter(pk=payload.user_id).first()
    if member is None:
        raise ValidationError({"user_id": [_(actions.INVALID_CHOICE)]})
    try:
        count = actions.assign_from_pool(pool=pool, ids=payload.ids, user=request.user, member=member)
    except ValidationError as error:
        raise api_field_errors(AssignIn, error) from None
    return {"count": count}


@router.post(
    "/{int:pool_id}/recycle",
    response={200: CountOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="pool_recycle_now",
    summary="Run the pool's recycling rules now (pool administrators)",
)
def recycle(request, pool_id: int):
    return {"count": actions.recycle_now(pool=get_pool(request, pool_id), user=request.user)}


# --- rules -----------------------------------------------------------------------------------------------


def get_rule(request, pool_id: int, rule_id: int) -> RecyclingRule:
    pool = get_pool(request, pool_id)
    rule = RecyclingRule.objects.filter(pool=pool, pk=rule_id).select_related("pool").first()
    if rule is None:
        raise NotFoundError()
    return rule


@router.get(
    "/{int:pool_id}/rules",
    response={200: list[PoolRuleOut], 404: ErrorOut},
    operation_id="pool_rule_list",
    summary="A pool's recycling rules",
)
def list_rules(request, pool_id: int):
    return list(get_pool(request, pool_id).rules.order_by("id"))


@router.post(
    "/{int:pool_id}/rules",
    response={201: PoolRuleOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    operation_id="pool_rule_create",
    summary="Add a recycling rule (pool administrators)",
)
def create_rule(request, pool_id: int, payload: PoolRuleIn):
    pool = get_pool(request, pool_id)
    try:
        rule = actions.create_rule(pool=pool, user=request.user, data=payload.model_dump())
    except ValidationError as error:
        raise api_field_errors(PoolRuleIn, error) from None
    return Status(201, rule)


@router.patch(
    "/{int:pool_id}/rules/{int:rule_id}",
    response={200: PoolRuleOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    operation_id="pool_rule_update",
    summary="Change a recycling rule (pool administrators)",
)
def update_rule(request, pool_id: int, rule_id: int, payload: PoolRulePatch):
    rule = get_rule(request, pool_id, rule_id)
    data = payload.model_dump(exclude_unset=True)
    nulls = [k for k, v in data.items() if v is None]
    if nulls:
        raise ValidationError({k: [_("This field may not be null.")] for k in nulls})
    try:
        return actions.update_rule(rule=rule, user=request.user, data=data)
    except ValidationError as error:
        raise api_field_errors(PoolRulePatch, error) from None


@router.delete(
    "/{int:pool_id}/rules/{int:rule_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    operation_id="pool_rule_delete",
    summary="Remove a recycling rule (pool administrators)",
)
def delete_rule(request, pool_id: int, rule_id: int):
    actions.delete_rule(rule=get_rule(request, pool_id, rule_id), user=request.user)
    return Status(204, None)


# --- the rep's list, the holiday calendar ----------------------------------------------------------------


@router.get(
    "/due",
    response={200: DueList, 422: ErrorOut},
    operation_id="pool_due_list",
    summary="Your records that go back to a pool soon",
)
def due_list(request, within_days: int = Query(7, ge=0, le=366)):
    items = actions.due_for_user(user=request.user, within_days=within_days)
    return {
        "results": [
            {
                "object_type": i.object_type,
                "id": i.object_id,
                "title": i.title,
                "pool_id": i.pool.pk,
                "pool_name": i.pool.name,
                "rule_id": i.rule.pk,
                "rule_name": i.rule.name,
                "due_date": i.due_date,
                "url": i.url,
            }
            for i in items
        ]
    }


@router.get(
    "/holidays", response=HolidayList, operation_id="holiday_list", summary="Holiday calendar: one year's exceptions"
)
def list_holidays(request, year: int = Query(..., ge=2000, le=2100)):
    return {"results": list(HolidayCalendar.objects.filter(date__year=year).order_by("date"))}


@router.post(
    "/holidays",
    response={200: HolidayOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="holiday_save",
    summary="Add or change a day of the official schedule (administrators)",
)
def save_holiday(request, payload: HolidayIn):
    try:
        return actions.save_holiday(
            user=request.user, date=payload.date, is_workday=payload.is_workday, name=payload.name
        )
    except ValidationError as error:
        raise api_field_errors(HolidayIn, error) from None


@router.post(
    "/holidays/seed",
    response={200: CountOut, 403: ErrorOut, 409: ErrorOut},
    operation_id="holiday_seed",
    summary="Load the days the chinesecalendar package knows and the table lacks (administrators)",
)
def seed_holidays(request):
    return {"count": actions.seed_holidays(user=request.user)}


@router.delete(
    "/holidays/{day}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    operation_id="holiday_delete",
    summary="Remove a day from the holiday calendar (administrators)",
)
def delete_holiday(request, day: datetime.date):
    if not actions.delete_holiday(user=request.user, date=day):
        raise NotFoundError()
    return Status(204, None)


# --- claim and release under /leads/ and /accounts/ -------------------------------------------------------


def _release(model_release, request, record_id: int, payload: ReleaseIn, **ids):
    pool = None
    if payload.pool_id is not None:
        pool = Pool.objects.filter(pk=payload.pool_id).first()
        if pool is None:
            raise ValidationError({"pool_id": [_(actions.INVALID_CHOICE)]})
    try:
        record = model_release(user=request.user, reason=payload.reason, note=payload.note, pool=pool, **ids)
    except ValidationError as error:
        raise api_field_errors(ReleaseIn, error) from None
    return claim_out(record)


CLAIM_RESPONSES = {200: ClaimOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
RELEASE_RESPONSES = {200: ClaimOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
RELEASE_DOC = (
    "Give the record back to its public pool with a reason (`note` required for `other`); the cool-down of "
    "the pool starts for its previous owner. Errors: `not_owned`, `converted` (a converted lead stays where it "
    "is), `pool_inactive`, and field errors on `reason`, `note` and `pool_id`."
)
CLAIM_DOC = (
    "Take the record from its public pool. Errors name the limit that stopped you: `not_a_member`, "
    "`not_in_pool`, `already_claimed`, `daily_claim_limit`, `ownership_limit`, `cooldown`, `pool_inactive`."
)


@lead_router.post(
    "/{int:lead_id}/claim",
    response=CLAIM_RESPONSES,
    operation_id="lead_claim",
    summary="Claim a lead from its public pool",
    description=CLAIM_DOC,
)
def claim_lead(request, lead_id: int):
    return claim_out(actions.claim_lead(lead_id=lead_id, user=request.user))


@lead_router.post(
    "/{int:lead_id}/release",
    response=RELEASE_RESPONSES,
    operation_id="lead_release",
    summary="Return a lead to its public pool, with a reason",
    description=RELEASE_DOC,
)
def release_lead(request, lead_id: int, payload: ReleaseIn):
    return _release(actions.release_lead, request, lead_id, payload, lead_id=lead_id)


@account_router.post(
    "/{int:account_id}/claim",
    response=CLAIM_RESPONSES,
    operation_id="account_claim",
    summary="Claim an account from its public pool",
    description=CLAIM_DOC,
)
def claim_account(request, account_id: int):
    return claim_out(actions.claim_account(account_id=account_id, user=request.user))


@account_router.post(
    "/{int:account_id}/release",
    response=RELEASE_RESPONSES,
    operation_id="account_release",
    summary="Return an account to its public pool, with a reason",
    description=RELEASE_DOC,
)
def release_account(request, account_id: int, payload: ReleaseIn):
    return _release(actions.release_account, request, account_id, payload, account_id=account_id)


# --- lock and unlock (锁定) under /leads/ and /accounts/ ----------------------------------------------------

LOCK_RESPONSES = {200: ClaimOut, 403: ErrorOut, 404: ErrorOut}
LOCK_DOC = (
    "A locked record is left alone by every recycling rule that exempts locked records. Pool administrators "
    "and whoever may transfer the record may lock or unlock it, but not its owner on his own account (403)."
)


def _lock_route(router, object_type: PoolObjectType, verb: str, locked: bool, summary: str):
    @router.post(
        f"/{{int:record_id}}/{verb}",
        response=LOCK_RESPONSES,
        operation_id=f"{object_type.value}_{verb}",
        summary=summary,
        description=LOCK_DOC,
    )
    def set_locked(request, record_id: int):
        model = actions.model_for(object_type)
        return claim_out(actions.set_locked(model=model, pk=record_id, user=request.user, locked=locked))


for _router, _type, _label in (
    (lead_router, PoolObjectType.LEAD, "a lead"),
    (account_router, PoolObjectType.ACCOUNT, "an account"),
):
    _lock_route(_router, _type, "lock", True, f"Lock {_label} against recycling")
    _lock_route(_router, _type, "unlock", False, f"Unlock {_label}: recycling rules apply again")
