"""Departments, users and roles over the Open API, so an HR system can keep the org in sync."""

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, FilterSchema, Query, Router, Schema, Status

from core import actions as core_actions
from core.api import (
    ErrorOut,
    ListParams,
    api_field_errors,
    build_crud_router,
    etag_for,
    expected_version,
    idempotent_create,
    list_page,
    payload_data,
    resolver,
    stripped,
)
from core.choices import Action
from core.ids import Id, Int, whole

from . import actions
from .models import Department, Role, User


class DepartmentOut(Schema):
    id: int
    name: str
    code: str
    parent_id: int | None = None
    head_id: int | None = None
    path: str
    depth: int
    sort_order: int
    is_active: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime
    version: int


class DepartmentIn(Schema):
    name: str = Field(..., max_length=100)
    code: str = Field("", max_length=50)
    parent_id: Int | None = None
    head_id: Int | None = None
    sort_order: Int = 0
    is_active: bool = True


class DepartmentPatch(Schema):
    name: str | None = Field(None, max_length=100)
    code: str | None = Field(None, max_length=50)
    parent_id: Int | None = None
    head_id: Int | None = None
    sort_order: Int | None = None
    is_active: bool | None = None


class DepartmentFilter(FilterSchema):
    parent_id: Id | None = None
    code: str | None = None
    is_active: bool | None = None


departments_router = build_crud_router(
    model=Department,
    out_schema=DepartmentOut,
    create_schema=DepartmentIn,
    update_schema=DepartmentPatch,
    filter_schema=DepartmentFilter,
    create=lambda *, user, payload: actions.create_department(user=user, data=payload_data(Department, payload)),
    update=lambda *, instance, user, payload, expected_version: actions.update_department(
        department=instance,
        user=user,
        data=payload_data(Department, payload, partial=True),
        expected_version=expected_version,
    ),
    delete=lambda *, instance, user, expected_version: actions.delete_department(
        department=instance, user=user, expected_version=expected_version
    ),
    orderings={"created_at": "created_at", "name": "name", "path": "path"},
    tags=["organisation"],
)


# --- users --------------------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    name: str
    email: str
    mobile: str
    title: str
    employee_no: str
    department_id: int | None = None
    manager_id: int | None = None
    role_ids: list[int] = []
    is_active: bool
    departed_at: datetime.datetime | None = None
    date_joined: datetime.datetime
    version: int

    @resolver
    def resolve_role_ids(obj):
        return [r.pk for r in obj.roles.all()]


class UserIn(Schema):
    username: str = Field(..., max_length=150)
    name: str = Field("", max_length=60)
    email: str = ""
    mobile: str = Field("", max_length=32)
    title: str = Field("", max_length=60)
    employee_no: str = Field("", max_length=40)
    department_id: Int | None = None
    manager_id: Int | None = None
    role_ids: list[Id] | None = None
    password: str | None = Field(None, min_length=8, max_length=128)


class UserPatch(Schema):
    name: str | None = Field(None, max_length=60)
    email: str | None = None
    mobile: str | None = Field(None, max_length=32)
    title: str | None = Field(None, max_length=60)
    employee_no: str | None = Field(None, max_length=40)
    department_id: Int | None = None
    manager_id: Int | None = None
    role_ids: list[Id] | None = None


class UserFilter(FilterSchema):
    department_id: Id | None = None
    is_active: bool | None = None
    employee_no: str | None = None
    username: str | None = None


class DeactivateIn(Schema):
    hand_over_to_id: Int | None = Field(None, description="Receives every record the departing user owns.")


class HandOverOut(Schema):
    moved: dict[str, int]


users_router = Router(tags=["organisation"])


def _roles(ids):
    if ids is None:
        return None
    roles = list(Role.objects.filter(pk__in=ids))
    if len(roles) != len(set(ids)):
        raise ValidationError(
            {"role_ids": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )
    return roles


def _department(pk):
    if pk is None:
        return None
    department = Department.objects.filter(pk=pk).first()
    if department is None:
        raise ValidationError(
            {"department_id": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )
    return department


def _with_api_names(schema, action, **kwargs):
    try:
        return action(**kwargs)
    except ValidationError as error:
        raise api_field_errors(schema, error) from None


def _user_qs(request, action=Action.VIEW):
    return User.objects.visible_to(request.user, action).prefetch_related("roles")


class UserPage(Schema):
    results: list[UserOut]
    next_cursor: str | None = None


@users_router.get("/", response=UserPage, summary="List users")
def list_users(request, params: Query[ListParams], filters: Query[UserFilter]):
    return list_page(
        filters.filter(_user_qs(request)),
        params,
        {"date_joined": "date_joined", "username": "username"},
        default="username",
    )


@users_router.get("/{int:user_id}", response={200: UserOut, 404: ErrorOut}, summary="Get a user")
def get_user(request, user_id: int, response: HttpResponse):
    user = core_actions.get_for(User, request.user, Action.VIEW, user_id)
    response["ETag"] = etag_for(user)
    return user


@users_router.post("/", response={201: UserOut, 403: ErrorOut, 422: ErrorOut}, summary="Create a user")
def create_user(request, payload: UserIn):
    data = stripped(payload.model_dump(exclude={"role_ids", "password", "department_id"}))
    data["department"] = _department(payload.department_id)

    def do_create():
        return _with_api_names(
            UserIn,
            actions.create_user,
            user=request.user,
            data=data,
            roles=_roles(payload.role_ids),
            password=payload.password,
        )

    return Status(*idempotent_create(request, do_create, lambda u: UserOut.from_orm(u).model_dump(mode="json")))


@users_router.patch(
    "/{int:user_id}", response={200: UserOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut}, summary="Change a user"
)
def update_user(request, user_id: int, payload: UserPatch, response: HttpResponse):
    target = core_actions.get_for(User, request.user, Action.EDIT, user_id)
    data = stripped(payload.model_dump(exclude_unset=True, exclude={"role_ids", "department_id"}))
    data = {k: ("" if v is None and k not in ("manager_id",) else v) for k, v in data.items()}
    if "department_id" in payload.model_fields_set:
        data["department"] = _department(payload.department_id)
    roles = _roles(payload.role_ids) if "role_ids" in payload.model_fields_set else None
    user = _with_api_names(
        UserPatch,
        actions.update_user,
        target=target,
        user=request.user,
        data=data,
        roles=roles,
        expected_version=expected_version(request),
    )
    response["ETag"] = etag_for(user)
    return user


@users_router.post(
    "/{int:user_id}/deactivate",
    response={200: HandOverOut, 404: ErrorOut, 422: ErrorOut},
    summary="Mark a user as departed, optionally handing over everything he owns",
)
def deactivate_user(request, user_id: int, payload: DeactivateIn):
    target = core_actions.get_for(User, request.user, Action.EDIT, user_id)
    receiver = None
    if payload.hand_over_to_id is not None:
        receiver = User.objects.filter(pk=payload.hand_over_to_id, is_active=True).first()
        if receiver is None:
            raise ValidationError({"hand_over_to_id": [_("Choose an active user to receive the records.")]})
    return {"moved": actions.deactivate_user(target=target, user=request.user, hand_over_to=receiver)}


@users_router.delete(
    "/{int:user_id}",
    response={204: None, 404: ErrorOut, 422: ErrorOut},
    summary="Deactivate a user (users are never deleted)",
)
def delete_user(request, user_id: int):
    target = core_actions.get_for(User, request.user, Action.EDIT, user_id)
    actions.deactivate_user(target=target, user=request.user)
    return Status(204, None)


# --- roles --------------------------------------------------------------------------------------


class GrantSchema(Schema):
    object_type: str
    actions: list[str]
    scope: whole(1, 4) = Field(..., description="1 own, 2 own department, 3 department and below, 4 all")


class RoleOut(Schema):
    id: int
    name: str
    code: str
    description: str
    is_active: bool
    permissions: list[GrantSchema]
    version: int

    @resolver
    def resolve_permissions(obj):
        return [{"object_type": p.object_type, "actions": p.actions, "scope": p.scope} for p in obj.permissions.all()]


class RoleIn(Schema):
    name: str = Field(..., max_length=60)
    code: str = Field(..., max_length=40)
    description: str = Field("", max_length=300)
    is_active: bool = True
    permissions: list[GrantSchema] = []


roles_router = Router(tags=["organisation"])


def _grants(items: list[GrantSchema]):
    from core.choices import ObjectType

    grants = {}
    for item in items:
        if item.object_type not in ObjectType.values:
            raise ValidationError({"permissions": [_("Unknown object type: %(type)s") % {"type": item.object_type}]})
        grants[item.object_type] = (item.actions, item.scope)
    return grants


@roles_router.get("/", response=list[RoleOut], summary="List roles")
def list_roles(request):
    return list(Role.objects.visible_to(request.user, Action.VIEW).prefetch_related("permissions"))


@roles_router.get("/{int:role_id}", response={200: RoleOut, 404: ErrorOut}, summary="Get a role")
def get_role(request, role_id: int):
    return core_actions.get_for(Role, request.user, Action.VIEW, role_id)


@roles_router.post("/", response={201: RoleOut, 403: ErrorOut, 422: ErrorOut}, summary="Create a role")
def create_role(request, payload: RoleIn):
    data = stripped(payload.model_dump(exclude={"permissions"}))
    return Status(
        *idempotent_create(
            request,
            lambda: actions.save_role(user=request.user, data=data, permissions=_grants(payload.permissions)),
            lambda r: RoleOut.from_orm(r).model_dump(mode="json"),
        )
    )


@roles_router.put(
    "/{int:role_id}",
    response={200: RoleOut, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    summary="Replace a role and its grants",
)
def update_role(request, role_id: int, payload: RoleIn):
    role = core_actions.get_for(Role, request.user, Action.EDIT, role_id)
    data = stripped(payload.model_dump(exclude={"permissions"}))
    return actions.save_role(
        user=request.user,
        data=data,
        permissions=_grants(payload.permissions),
        role=role,
        expected_version=expected_version(request),
    )


@roles_router.delete(
    "/{int:role_id}",
    response={204: None, 404: ErrorOut, 412: ErrorOut, 422: ErrorOut},
    summary="Delete a role (refused while users still hold it)",
)
def delete_role(request, role_id: int):
    role = core_actions.get_for(Role, request.user, Action.DELETE, role_id)
    actions.delete_role(role=role, user=request.user, expected_version=expected_version(request))
    return Status(204, None)
