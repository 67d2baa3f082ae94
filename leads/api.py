import datetime
from typing import Annotated

from ninja import Field, FilterLookup, FilterSchema, Schema

from core.api import OwnedOut, build_crud_router, payload_data
from core.ids import Id, Int

from . import actions
from .models import Lead


class LeadOut(OwnedOut):
    company: str
    contact_name: str
    title: str
    phone: str
    email: str
    industry: str
    province_code: str
    city_code: str
    district_code: str
    address: str
    source: str
    status: str
    invalid_reason: str
    invalid_note: str
    notes: str
    is_locked: bool = Field(description="Locked against recycling: POST …/lock and …/unlock.")


class LeadIn(Schema):
    company: str = Field(..., max_length=200)
    contact_name: str = Field("", max_length=60)
    title: str = Field("", max_length=60)
    phone: str = Field("", max_length=32)
    email: str = ""
    industry: str = ""
    province_code: str = ""
    city_code: str = ""
    district_code: str = ""
    address: str = Field("", max_length=300)
    source: str = Field("api", description="website, web_form, import, api, exhibition, referral, cold_call, …")
    status: str = "new"
    invalid_reason: str = ""
    invalid_note: str = Field("", max_length=300)
    owner_id: Int | None = Field(None, description="Defaults to the caller.")
    notes: str = ""


class LeadPatch(Schema):
    company: str | None = Field(None, max_length=200)
    contact_name: str | None = Field(None, max_length=60)
    title: str | None = Field(None, max_length=60)
    phone: str | None = Field(None, max_length=32)
    email: str | None = None
    industry: str | None = None
    province_code: str | None = None
    city_code: str | None = None
    district_code: str | None = None
    address: str | None = Field(None, max_length=300)
    source: str | None = None
    status: str | None = None
    invalid_reason: str | None = None
    invalid_note: str | None = Field(None, max_length=300)
    owner_id: Int | None = None
    notes: str | None = None


class LeadFilter(FilterSchema):
    owner_id: Id | None = None
    status: str | None = None
    source: str | None = None
    industry: str | None = None
    province_code: str | None = None
    created_after: Annotated[datetime.datetime | None, FilterLookup("created_at__gte")] = None
    created_before: Annotated[datetime.datetime | None, FilterLookup("created_at__lt")] = None


router = build_crud_router(
    model=Lead,
    out_schema=LeadOut,
    create_schema=LeadIn,
    update_schema=LeadPatch,
    filter_schema=LeadFilter,
    create=lambda *, user, payload: actions.create_lead(user=user, data=payload_data(Lead, payload)),
    update=lambda *, instance, user, payload, expected_version: actions.update_lead(
        lead=instance, user=user, data=payload_data(Lead, payload, partial=True), expected_version=expected_version
    ),
    delete=lambda *, instance, user, expected_version: actions.delete_lead(
        lead=instance, user=user, expected_version=expected_version
    ),
    transfer=actions.transfer_leads,
    orderings={"created_at": "created_at", "updated_at": "updated_at"},
    select_related=("owner",),
    tags=["leads"],
)
