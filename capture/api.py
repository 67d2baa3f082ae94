"""Admin side of public web forms over the Open API (visitors post to the form's own address)."""

from django.core.exceptions import ValidationError
from ninja import Field, Router, Schema, Status

from core.api import ErrorOut
from core.errors import NotFoundError
from core.ids import Int
from org.permissions import require_admin

from . import actions
from .models import WebForm

router = Router(tags=["capture"])  # /api/v1/forms/


class FieldSpecSchema(Schema):
    name: str
    required: bool = False


class WebFormOut(Schema):
    id: int
    name: str
    key: str
    title: str
    intro: str
    fields: list[FieldSpecSchema]
    source: str
    campaign: str
    run_as_id: int
    success_message: str
    rate_limit_per_hour: int
    is_active: bool
    public_url: str

    @staticmethod
    def resolve_public_url(obj):
        return obj.public_url() if isinstance(obj, WebForm) else obj["public_url"]


class WebFormIn(Schema):
    name: str = Field(..., max_length=100)
    title: str = Field(..., max_length=100)
    intro: str = ""
    fields: list[FieldSpecSchema]
    source: str = "web_form"
    campaign: str = Field("", max_length=100)
    run_as_id: Int
    success_message: str = Field("", max_length=300)
    rate_limit_per_hour: Int = 5
    is_active: bool = True


def _admin(request):
    require_admin(request.user)


def _save(request, payload: WebFormIn, form=None):
    from org.models import User

    data = payload.model_dump(exclude={"run_as_id", "fields"})
    data["fields"] = [f.model_dump() for f in payload.fields]
    run_as = User.objects.filter(pk=payload.run_as_id).first()
    if run_as is None:
        raise ValidationError({"run_as_id": ["Select a valid choice."]})
    data["run_as"] = run_as
    try:
        return actions.save_form(user=request.user, data=data, form=form)
    except ValidationError as error:
        from core.api import api_field_errors

        raise api_field_errors(WebFormIn, error) from None


@router.get("/", response=list[WebFormOut], operation_id="webform_list", summary="List web forms")
def list_forms(request):
    _admin(request)
    return list(WebForm.objects.all())


@router.post(
    "/",
    response={201: WebFormOut, 403: ErrorOut, 422: ErrorOut},
    operation_id="webform_create",
    summary="Create a public web form",
)
def create_form(request, payload: WebFormIn):
    _admin(request)
    return Status(201, _save(request, payload))


@router.get("/{int:form_id}", response={200: WebFormOut, 404: ErrorOut}, operation_id="webform_get")
def get_form(request, form_id: int):
    _admin(request)
    form = WebForm.objects.filter(pk=form_id).first()
    if form is None:
        raise NotFoundError()
    return form


@router.put("/{int:form_id}", response={200: WebFormOut, 404: ErrorOut, 422: ErrorOut}, operation_id="webform_update")
def update_form(request, form_id: int, payload: WebFormIn):
    _admin(request)
    form = WebForm.objects.filter(pk=form_id).first()
    if form is None:
        raise NotFoundError()
    return _save(request, payload, form)
