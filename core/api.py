"""Shared Open API machinery: bearer tokens, one error shape, keyset lists, ETag/If-Match and
Idempotency-Key handling, and a CRUD router builder that every domain's api.py uses."""

import datetime
import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, django_auth

from . import actions as core_actions
from . import history, hooks
from .choices import Action
from .errors import DomainError, validation_error_fields
from .ids import Id, Int
from .keyset import keyset_page, parse_ordering
from .models import ApiToken, IdempotencyRecord


def resolver(fn):
    """A Ninja resolver that passes through values already serialized: a create returns (and an
    idempotent replay stores) a plain dict, which must come out exactly as it went in."""
    name = fn.__name__.removeprefix("resolve_")

    def resolve(obj):
        if isinstance(obj, dict):
            return obj.get(name)
        return fn(obj)

    resolve.__name__ = fn.__name__
    return staticmethod(resolve)


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        api_token = ApiToken.authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        return api_token.user


AUTH = [TokenAuth(), django_auth]


class ErrorOut(Schema):
    code: str
    message: str
    errors: dict[str, list[str]] = {}


def error_response(api, request, status: int, code: str, message, errors=None):
    return api.create_response(request, {"code": code, "message": str(message), "errors": errors or {}}, status=status)


PYDANTIC_MESSAGES = {
    "missing": lambda: _("This field is required."),
    "string_too_long": lambda: _("Ensure this value is not too long."),
    "int_parsing": lambda: _("Enter a whole number."),
    "int_type": lambda: _("Enter a whole number."),
    "decimal_parsing": lambda: _("Enter a number."),
    "decimal_type": lambda: _("Enter a number."),
    "date_from_datetime_parsing": lambda: _("Enter a valid date (YYYY-MM-DD)."),
    "date_parsing": lambda: _("Enter a valid date (YYYY-MM-DD)."),
    "date_type": lambda: _("Enter a valid date (YYYY-MM-DD)."),
    "datetime_parsing": lambda: _("Enter a valid date and time (ISO 8601)."),
    "datetime_from_date_parsing": lambda: _("Enter a valid date and time (ISO 8601)."),
    "timezone_aware": lambda: _("Enter the date and time with its UTC offset, e.g. 2026-06-01T10:00:00+08:00."),
    "enum": lambda: _("Select a valid choice."),
    "literal_error": lambda: _("Select a valid choice."),
    "string_type": lambda: _("Enter text."),
    "bool_parsing": lambda: _("Enter true or false."),
    "list_type": lambda: _("Enter a list."),
    "json_invalid": lambda: _("The request body is not valid JSON."),
    "model_attributes_type": lambda: _("The request body must be a JSON object."),
    "dict_type": lambda: _("The request body must be a JSON object."),
}


def _pydantic_errors(exc: NinjaValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "query", "path", "filters")]
        loc = [p for i, p in enumerate(loc) if i == 0 or p != loc[i - 1]]  # an upload's ("file", "file")
        name = ".".join(loc) or "__all__"
        make = PYDANTIC_MESSAGES.get(error.get("type", ""))
        message = make() if make else error.get("msg", _("Enter a valid value."))
        if error.get("type") == "greater_than_equal" or error.get("type") == "less_than_equal":
            message = _("Enter a value within the allowed range.")
        fields.setdefault(name, []).append(str(message))
    return fields


def install_error_handlers(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        errors = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.fields.items()}
        return error_response(api, request, exc.status, exc.code, exc.message, errors)

    @api.exception_handler(ValidationError)
    def django_validation_error(request, exc: ValidationError):
        return error_response(
            api, request, 422, "validation_error", _("Please correct the errors below."), validation_error_fields(exc)
        )

    @api.exception_handler(NinjaValidationError)
    def schema_validation_error(request, exc: NinjaValidationError):
        return error_response(
            api, request, 422, "validation_error", _("Please correct the errors below."), _pydantic_errors(exc)
        )

    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc):
        return error_response(
            api, request, 401, "unauthorized", _("Send a valid API token: Authorization: Bearer <token>.")
        )

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return error_response(api, request, 404, "not_found", _("Not found, or you may not see it."))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        return error_response(api, request, exc.status_code, "error", str(exc))

    @api.exception_handler(OverflowError)
    def number_out_of_range(request, exc):
        """A number beyond what the database holds that no schema bound caught (the schemas bound ids and
        counts: see core.ids): the caller's mistake, not the server's."""
        return error_response(api, request, 422, "validation_error", _("A number in the request is too large."))


def not_found_json(request, exception=None):
    """A path under /api/ that names no operation (/api/v1/leads/abc): the API's own error shape, as every
    other API answer, not Django's HTML page."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        body = {"code": "not_found", "message": str(_("Not found, or you may not see it.")), "errors": {}}
        return JsonResponse(body, status=404, json_dumps_params={"ensure_ascii": False})
    return page_not_found(request, exception)


# --- list, ETag and idempotency helpers -------------------------------------------------------


class ListParams(Schema):
    limit: int = Field(50, ge=1, le=200, description="Page size, 1–200.")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    ordering: str | None = Field(None, description="Sort field, `-` for descending, e.g. `-created_at`.")


def list_page(qs, params: ListParams, allowed_orderings: dict[str, str], default: str = "-created_at"):
    field, descending = parse_ordering(params.ordering, allowed_orderings, default)
    rows, next_cursor = keyset_page(qs, field=field, descending=descending, cursor=params.cursor, limit=params.limit)
    return {"results": rows, "next_cursor": next_cursor}


def api_field_errors(schema, error: ValidationError) -> ValidationError:
    """Name errors after the API's input fields: a model's `parent` is `parent_id` on the wire."""
    names = set(schema.model_fields)
    fields = validation_error_fields(error)
    renamed = {}
    for key, messages in fields.items():
        if key not in names and f"{key}_id" in names:
            key = f"{key}_id"
        elif key not in names and f"{key.removesuffix('s')}_ids" in names:  # a model's `roles` is `role_ids`
            key = f"{key.removesuffix('s')}_ids"
        renamed.setdefault(key, []).extend(messages)
    return ValidationError(renamed)


def etag_for(instance) -> str:
    return f'"{instance.version}"'


def expected_version(request: HttpRequest) -> int | None:
    """The version the client last saw, from If-Match (an ETag we issued); None when not sent."""
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        raise ValidationError({"If-Match": [_("If-Match must be an ETag returned by this API.")]}) from None


def idempotent_create(request: HttpRequest, create, serialize) -> tuple[int, Any]:
    """Run `create` once per Idempotency-Key: a retry with the same key and body replays the answer."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        return 201, serialize(create())  # (status, body), wrapped in Status by the caller
    if len(key) > 255:
        raise ValidationError({"Idempotency-Key": [_("Use at most 255 characters.")]})
    user = request.user
    body_hash = hashlib.sha256(request.body or b"").hexdigest()
    endpoint = request.path

    def replay(record: IdempotencyRecord):
        if record.endpoint != endpoint or record.request_hash != body_hash:
            raise DomainError(
                _("This Idempotency-Key was already used for a different request."),
                code="idempotency_key_reused",
                status=422,
            )
        request.idempotent_replay = True
        return record.status_code, record.response

    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing:
        return replay(existing)
    try:
        with transaction.atomic():
            body = json.loads(json.dumps(serialize(create()), default=str))
            IdempotencyRecord.objects.create(
                user=user, key=key, endpoint=endpoint, request_hash=body_hash, status_code=201, response=body
            )
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:
            raise
        return replay(existing)
    return 201, body


class TransferIn(Schema):
    ids: list[Id] = Field(..., min_length=1, max_length=10000)
    owner_id: Int
    note: str = Field("", max_length=core_actions.TRANSFER_NOTE_MAX)


class TransferOut(Schema):
    transferred: int


class ShareIn(Schema):
    user_id: Int
    access: str = Field("view", description="`view` or `edit`.")


class ShareOut(Schema):
    user_id: int
    user_name: str
    access: str


def build_crud_router(
    *,
    model,
    out_schema,
    create_schema,
    update_schema,
    filter_schema,
    create,
    update,
    delete,
    transfer=None,
    orderings: dict[str, str],
    select_related=(),
    prefetch_related=(),
    tags: list[str],
) -> Router:
    """List / get / create / update / delete (and transfer / team) endpoints for one object type.

    The handlers only translate HTTP to the domain's actions; the actions hold every rule.
    """
    router = Router(tags=tags)
    object_type = model.object_type
    prefix = model.__name__.lower()

    class PageOut(Schema):
        results: list[out_schema]
        next_cursor: str | None = None

    PageOut.__name__ = f"{model.__name__}Page"

    def visible(request, action=Action.VIEW):
        qs = model.objects.visible_to(request.user, action)
        if select_related:
            qs = qs.select_related(*select_related)
        if prefetch_related:
            qs = qs.prefetch_related(*prefetch_related)
        return qs

    @router.get("/", response=PageOut, operation_id=f"{prefix}_list", summary=f"List {model._meta.verbose_name_plural}")
    def list_records(request, params: Query[ListParams], filters: Query[filter_schema]):
        qs = filters.apply(visible(request)) if hasattr(filters, "apply") else filters.filter(visible(request))
        return list_page(qs, params, orderings)

    @router.get(
        "/{int:record_id}",
        response={200: out_schema, 404: ErrorOut},
        operation_id=f"{prefix}_get",
        summary=f"Get one {model._meta.verbose_name}",
    )
    def get_record(request, record_id: int, response: HttpResponse):
        instance = core_actions.get_for(model, request.user, Action.VIEW, record_id)
        instance = visible(request).get(pk=instance.pk)
        response["ETag"] = etag_for(instance)
        return instance

    @router.post(
        "/",
        response={201: out_schema, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
        operation_id=f"{prefix}_create",
        summary=f"Create a {model._meta.verbose_name}",
        description=(
            "Send an `Idempotency-Key` header to make retries safe: the same key and body never create twice. "
            "A duplicate under the configured rules answers 409 (`duplicate`, or `possible_duplicate` with "
            "`candidates`); send `X-Confirm-Duplicates: true` to create it despite a warning."
        ),
    )
    def create_record(request, payload: create_schema, response: HttpResponse):
        def do_create():
            try:
                with hooks.check_options(**hooks.options_from_request(request)):
                    instance = create(user=request.user, payload=payload)
            except ValidationError as error:
                if isinstance(error, DomainError):  # a save check's error keeps its code and status
                    raise
                raise api_field_errors(create_schema, error) from None
            return visible(request).get(pk=instance.pk)

        status, body = idempotent_create(request, do_create, lambda i: out_schema.from_orm(i).model_dump(mode="json"))
        if getattr(request, "idempotent_replay", False):
            response["Idempotent-Replayed"] = "true"
        response["ETag"] = f'"{body.get("version", "")}"'
        return Status(status, body)

    @router.patch(
        "/{int:record_id}",
        response={200: out_schema, 404: ErrorOut, 409: ErrorOut, 412: ErrorOut, 422: ErrorOut},
        operation_id=f"{prefix}_update",
        summary=f"Change a {model._meta.verbose_name}",
        description="Send `If-Match` with the ETag you read; a record changed since then answers 412.",
    )
    def update_record(request, record_id: int, payload: update_schema, response: HttpResponse):
        instance = core_actions.get_for(model, request.user, Action.EDIT, record_id)
        try:
            with hooks.check_options(**hooks.options_from_request(request)):
                instance = update(
                    instance=instance, user=request.user, payload=payload, expected_version=expected_version(request)
                )
        except ValidationError as error:
            if isinstance(error, DomainError):  # a save check's error keeps its code and status
                raise
            raise api_field_errors(update_schema, error) from None
        instance = visible(request).get(pk=instance.pk)
        response["ETag"] = etag_for(instance)
        return instance

    @router.delete(
        "/{int:record_id}",
        response={204: None, 404: ErrorOut, 412: ErrorOut},
        operation_id=f"{prefix}_delete",
        summary=f"Delete a {model._meta.verbose_name} (to the recycle bin)",
    )
    def delete_record(request, record_id: int):
        instance = core_actions.get_for(model, request.user, Action.DELETE, record_id)
        delete(instance=instance, user=request.user, expected_version=expected_version(request))
        return Status(204, None)

    if transfer is not None:

        @router.post(
            "/transfer",
            response={200: TransferOut, 403: ErrorOut, 422: ErrorOut},
            operation_id=f"{prefix}_transfer",
            summary=f"Transfer {model._meta.verbose_name_plural} to another owner",
        )
        def transfer_records(request, payload: TransferIn):
            from org.models import User

            new_owner = User.objects.filter(pk=payload.owner_id).first()
            if new_owner is None:
                raise ValidationError(
                    {"owner_id": [_("Select a valid choice. That choice is not one of the available choices.")]}
                )
            try:
                count = transfer(ids=payload.ids, user=request.user, new_owner=new_owner, note=payload.note)
            except ValidationError as error:
                raise api_field_errors(TransferIn, error) from None
            return {"transferred": count}

    if getattr(model, "shareable", False):

        @router.get(
            "/{int:record_id}/team",
            response=list[ShareOut],
            operation_id=f"{prefix}_list_team",
            summary="List the record's team",
        )
        def list_team(request, record_id: int):
            instance = core_actions.get_for(model, request.user, Action.VIEW, record_id)
            return [
                {"user_id": s.user_id, "user_name": str(s.user), "access": s.access}
                for s in core_actions.team_of(instance)
            ]

        @router.post(
            "/{int:record_id}/team",
            response={200: ShareOut, 404: ErrorOut, 422: ErrorOut},
            operation_id=f"{prefix}_add_team_member",
            summary="Add or change a team member",
        )
        def add_team_member(request, record_id: int, payload: ShareIn):
            from org.models import User

            instance = core_actions.get_for(model, request.user, Action.EDIT, record_id)
            member = User.objects.filter(pk=payload.user_id).first()
            share = core_actions.share_record(
                instance=instance, user=request.user, member=member, access=payload.access
            )
            return {"user_id": share.user_id, "user_name": str(share.user), "access": share.access}

        @router.delete(
            "/{int:record_id}/team/{int:user_id}",
            response={204: None, 404: ErrorOut},
            operation_id=f"{prefix}_remove_team_member",
            summary="Remove a team member",
        )
        def remove_team_member(request, record_id: int, user_id: int):
            from org.models import User

            instance = core_actions.get_for(model, request.user, Action.EDIT, record_id)
            member = User.objects.filter(pk=user_id).first()
            if member is not None:
                core_actions.unshare_record(instance=instance, user=request.user, member=member)
            return Status(204, None)

    @router.get(
        "/{int:record_id}/history",
        response={200: HistoryPageOut, 404: ErrorOut, 422: ErrorOut},
        operation_id=f"{prefix}_history",
        summary=f"The {model._meta.verbose_name}'s history",
        description=(
            "Who changed what and when, newest first: field-level old and new values, transfers, claims, "
            "returns and recycling, merges, conversion, the import that created it. Labels, choice values and "
            "the app's own notes come in the request's language (`Accept-Language`); `field` is the stable key."
        ),
    )
    def record_history(request, record_id: int, params: Query[HistoryParams]):
        instance = core_actions.get_for(model, request.user, Action.VIEW, record_id)
        entries, next_cursor = history.history_page(
            instance, limit=params.limit, cursor=params.cursor, reader=request.user
        )
        return {"results": [history_out(entry) for entry in entries], "next_cursor": next_cursor}

    router.object_type = object_type
    return router


class HistoryParams(Schema):
    limit: int = Field(50, ge=1, le=200, description="Page size, 1–200.")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")


class HistoryChangeOut(Schema):
    field: str
    label: str
    old: str
    new: str


class HistoryEntryOut(Schema):
    id: int | None = Field(None, description="None for an entry kept elsewhere (the import run that created it).")
    at: datetime.datetime
    action: str
    action_label: str
    actor_id: int | None = None
    actor_name: str = Field("", description="Empty when the system did it (a rule, the recycling sweep).")
    note: str
    changes: list[HistoryChangeOut]
    record_type: str = Field(
        description="The record the entry belongs to: this one, or the lead it was converted from (shown "
        "to callers who may see that lead)."
    )
    record_id: int


class HistoryPageOut(Schema):
    results: list[HistoryEntryOut]
    next_cursor: str | None = None


def history_out(entry) -> dict:
    return {
        "id": entry.pk,
        "at": entry.at,
        "action": entry.action,
        "action_label": str(entry.get_action_display()),
        "actor_id": entry.actor_id,
        "actor_name": str(entry.actor) if entry.actor_id else "",
        "note": history.shown_note(entry),
        "record_type": entry.object_type,
        "record_id": entry.object_id,
        "changes": [
            {
                "field": str(c.get("field") or ""),
                "label": str(c.get("label") or ""),
                "old": str(c.get("old") or ""),
                "new": str(c.get("new") or ""),
            }
            for c in history.shown_changes(entry)
        ],
    }


TEXT_FIELDS = ("CharField", "TextField", "EmailField", "URLField", "SlugField")


def stripped(data: dict) -> dict:
    """Top-level text values without their surrounding whitespace, as the pages' form fields give them."""
    return {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}


def payload_data(model, payload, *, exclude=(), partial: bool = False) -> dict:
    """Schema payload → model field values; null for a text field means empty text, and text loses its
    surrounding whitespace, as the pages' form fields do (a name of spaces alone is then a missing name)."""
    raw = payload.model_dump(exclude_unset=partial, exclude=set(exclude))
    data = {}
    for key, value in raw.items():
        field = model._meta.get_field(key)
        if field.get_internal_type() in TEXT_FIELDS:
            if value is None and not field.null:
                value = ""
            elif isinstance(value, str):
                value = value.strip()
        data[key] = value
    return data


class OwnedOut(Schema):
    id: int
    owner_id: int | None = None
    owner_name: str = ""
    created_at: Any
    updated_at: Any
    version: int

    @resolver
    def resolve_owner_name(obj):
        return str(obj.owner) if obj.owner_id else ""
