import datetime
from typing import Annotated

from ninja import Field, FilterLookup, FilterSchema, Schema

from core.api import OwnedOut, build_crud_router, payload_data, resolver
from core.ids import Id, Int

from . import actions
from .models import Account


class AccountOut(OwnedOut):
    name: str
    short_name: str
    credit_code: str
    industry: str
    grade: str
    account_type: str
    parent_id: int | None = None
    province_code: str
    city_code: str
    district_code: str
    region: str = ""
    address: str
    phone: str
    website: str
    status: str
    tags: list[str] = []
    notes: str
    is_locked: bool = Field(description="Locked against recycling: POST …/lock and …/unlock.")

    @resolver
    def resolve_region(obj):
        return obj.region_label

    @resolver
    def resolve_tags(obj):
        return [t.name for t in obj.tags.all()]


class AccountIn(Schema):
    name: str = Field(..., max_length=200)
    short_name: str = Field("", max_length=60)
    credit_code: str = Field(
        "", max_length=18, description="Unified social credit code (统一社会信用代码), check digit verified."
    )
    industry: str = ""
    grade: str = Field("", description="A, B, C or D.")
    account_type: str = "end_customer"
    parent_id: Int | None = None
    province_code: str = ""
    city_code: str = ""
    district_code: str = ""
    address: str = Field("", max_length=300)
    phone: str = Field("", max_length=32)
    website: str = ""
    status: str = "potential"
    owner_id: Int | None = Field(None, description="Defaults to the caller.")
    tags: list[str] | None = None
    notes: str = ""


class AccountPatch(Schema):
    name: str | None = Field(None, max_length=200)
    short_name: str | None = Field(None, max_length=60)
    credit_code: str | None = Field(None, max_length=18)
    industry: str | None = None
    grade: str | None = None
    account_type: str | None = None
    parent_id: Int | None = None
    province_code: str | None = None
    city_code: str | None = None
    district_code: str | None = None
    address: str | None = Field(None, max_length=300)
    phone: str | None = Field(None, max_length=32)
    website: str | None = None
    status: str | None = None
    owner_id: Int | None = None
    tags: list[str] | None = None
    notes: str | None = None


class AccountFilter(FilterSchema):
    owner_id: Id | None = None
    status: str | None = None
    grade: str | None = None
    industry: str | None = None
    account_type: str | None = None
    parent_id: Id | None = None
    province_code: str | None = None
    tag: Annotated[str | None, FilterLookup("tags__name")] = None
    created_after: Annotated[datetime.datetime | None, FilterLookup("created_at__gte")] = None
    created_before: Annotated[datetime.datetime | None, FilterLookup("created_at__lt")] = None


def _create(*, user, payload):
    return actions.create_account(user=user, data=payload_data(Account, payload, exclude={"tags"}), tags=payload.tags)


def _update(*, instance, user, payload, expected_version):
    tags = payload.tags if "tags" in payload.model_fields_set else None
    data = payload_data(Account, payload, exclude={"tags"}, partial=True)
    return actions.update_account(account=instance, user=user, data=data, tags=tags, expected_version=expected_version)


router = build_crud_router(
    model=Account,
    out_schema=AccountOut,
    create_schema=AccountIn,
    update_schema=AccountPatch,
    filter_schema=AccountFilter,
    create=_create,
    update=_update,
    delete=lambda *, instance, user, expected_version: actions.delete_account(
        account=instance, user=user, expected_version=expected_version
    ),
    transfer=actions.transfer_accounts,
    orderings={"created_at": "created_at", "updated_at": "updated_at", "name": "name"},
    select_related=("owner",),
    prefetch_related=("tags",),
    tags=["accounts"],
)
