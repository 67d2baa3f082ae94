import datetime
from typing import Annotated

from ninja import Field, FilterLookup, FilterSchema, Schema
from pydantic import AwareDatetime

from core.api import OwnedOut, build_crud_router, payload_data, resolver
from core.ids import Id, Int

from . import actions
from .models import CONTENT_MAX, FollowUp


class FollowUpOut(OwnedOut):
    kind: str
    account_id: int | None = None
    contact_id: int | None = None
    lead_id: int | None = None
    opportunity_id: int | None = None
    subject: str = ""
    occurred_at: datetime.datetime
    content: str
    next_step: str
    next_follow_up_on: datetime.date | None = None

    @resolver
    def resolve_subject(obj):
        return obj.subject_label


class FollowUpIn(Schema):
    kind: str = Field("call", description="visit, call, meeting, email, wechat or other")
    account_id: Int | None = None
    contact_id: Int | None = None
    lead_id: Int | None = None
    opportunity_id: Int | None = None
    occurred_at: AwareDatetime | None = Field(None, description="With its UTC offset, e.g. 2026-06-01T10:00:00+08:00")
    content: str = Field(..., min_length=1, max_length=CONTENT_MAX)
    next_step: str = Field("", max_length=300)
    next_follow_up_on: datetime.date | None = None
    owner_id: Int | None = None


class FollowUpPatch(Schema):
    kind: str | None = None
    occurred_at: AwareDatetime | None = Field(None, description="With its UTC offset, e.g. 2026-06-01T10:00:00+08:00")
    content: str | None = Field(None, min_length=1, max_length=CONTENT_MAX)
    next_step: str | None = Field(None, max_length=300)
    next_follow_up_on: datetime.date | None = None
    owner_id: Int | None = None


class FollowUpFilter(FilterSchema):
    owner_id: Id | None = None
    kind: str | None = None
    account_id: Id | None = None
    contact_id: Id | None = None
    lead_id: Id | None = None
    opportunity_id: Id | None = None
    occurred_after: Annotated[datetime.datetime | None, FilterLookup("occurred_at__gte")] = None
    occurred_before: Annotated[datetime.datetime | None, FilterLookup("occurred_at__lt")] = None


def _create(*, user, payload):
    data = payload_data(FollowUp, payload)
    if data.get("occurred_at") is None:
        data.pop("occurred_at", None)
    return actions.create_followup(user=user, data=data)


router = build_crud_router(
    model=FollowUp,
    out_schema=FollowUpOut,
    create_schema=FollowUpIn,
    update_schema=FollowUpPatch,
    filter_schema=FollowUpFilter,
    create=_create,
    update=lambda *, instance, user, payload, expected_version: actions.update_followup(
        followup=instance,
        user=user,
        data=payload_data(FollowUp, payload, partial=True),
        expected_version=expected_version,
    ),
    delete=lambda *, instance, user, expected_version: actions.delete_followup(
        followup=instance, user=user, expected_version=expected_version
    ),
    transfer=actions.transfer_followups,
    orderings={"created_at": "created_at", "occurred_at": "occurred_at"},
    select_related=("owner", "account", "contact", "lead", "opportunity"),
    tags=["follow-ups"],
)
