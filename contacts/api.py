import datetime
from typing import Annotated

from ninja import Field, FilterLookup, FilterSchema, Schema

from core.api import OwnedOut, build_crud_router, payload_data, resolver
from core.ids import Id, Int

from . import actions
from .models import Contact


class ContactOut(OwnedOut):
    account_id: int
    account_name: str = ""
    name: str
    title: str
    department: str
    mobile: str
    phone: str
    email: str
    wechat: str
    buying_role: str
    attitude: str
    notes: str

    @resolver
    def resolve_account_name(obj):
        return obj.account.name


class ContactIn(Schema):
    account_id: Int
    name: str = Field(..., max_length=60)
    title: str = Field("", max_length=60)
    department: str = Field("", max_length=60)
    mobile: str = Field("", max_length=32)
    phone: str = Field("", max_length=32)
    email: str = ""
    wechat: str = Field("", max_length=60)
    buying_role: str = Field(
        "", description="decision_maker, technical_evaluator, user, purchaser, influencer, gatekeeper"
    )
    attitude: str = Field("neutral", description="supporter, neutral or opponent")
    owner_id: Int | None = None
    notes: str = ""


class ContactPatch(Schema):
    account_id: Int | None = None
    name: str | None = Field(None, max_length=60)
    title: str | None = Field(None, max_length=60)
    department: str | None = Field(None, max_length=60)
    mobile: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=32)
    email: str | None = None
    wechat: str | None = Field(None, max_length=60)
    buying_role: str | None = None
    attitude: str | None = None
    owner_id: Int | None = None
    notes: str | None = None


class ContactFilter(FilterSchema):
    owner_id: Id | None = None
    account_id: Id | None = None
    buying_role: str | None = None
    attitude: str | None = None
    created_after: Annotated[datetime.datetime | None, FilterLookup("created_at__gte")] = None
    created_before: Annotated[datetime.datetime | None, FilterLookup("created_at__lt")] = None


router = build_crud_router(
    model=Contact,
    out_schema=ContactOut,
    create_schema=ContactIn,
    update_schema=ContactPatch,
    filter_schema=ContactFilter,
    create=lambda *, user, payload: actions.create_contact(user=user, data=payload_data(Contact, payload)),
    update=lambda *, instance, user, payload, expected_version: actions.update_contact(
        contact=instance,
        user=user,
        data=payload_data(Contact, payload, partial=True),
        expected_version=expected_version,
    ),
    delete=lambda *, instance, user, expected_version: actions.delete_contact(
        contact=instance, user=user, expected_version=expected_version
    ),
    transfer=actions.transfer_contacts,
    orderings={"created_at": "created_at", "updated_at": "updated_at", "name": "name"},
    select_related=("owner", "account"),
    tags=["contacts"],
)
