import datetime
from decimal import Decimal
from typing import Annotated

from ninja import Field, FilterLookup, FilterSchema, Router, Schema

from core.api import OwnedOut, build_crud_router, payload_data, resolver
from core.ids import Id, Int

from . import actions
from .models import Opportunity, Stage


class OpportunityOut(OwnedOut):
    account_id: int
    account_name: str = ""
    contact_id: int | None = None
    name: str
    amount: Decimal
    expected_close_date: datetime.date
    stage_id: int
    stage_name: str = ""
    probability: int = 0
    status: str
    closed_at: datetime.datetime | None = None
    lost_reason: str
    notes: str

    @resolver
    def resolve_account_name(obj):
        return obj.account.name

    @resolver
    def resolve_stage_name(obj):
        return obj.stage.name

    @resolver
    def resolve_probability(obj):
        return obj.stage.probability


class OpportunityIn(Schema):
    account_id: Int
    contact_id: Int | None = None
    name: str = Field(..., max_length=200)
    amount: Decimal = Field(Decimal("0"), ge=0, max_digits=16, decimal_places=2)
    expected_close_date: datetime.date
    stage_id: Int
    lost_reason: str = Field("", max_length=300)
    owner_id: Int | None = None
    notes: str = ""


class OpportunityPatch(Schema):
    account_id: Int | None = None
    contact_id: Int | None = None
    name: str | None = Field(None, max_length=200)
    amount: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)
    expected_close_date: datetime.date | None = None
    stage_id: Int | None = None
    lost_reason: str | None = Field(None, max_length=300)
    owner_id: Int | None = None
    notes: str | None = None


class OpportunityFilter(FilterSchema):
    owner_id: Id | None = None
    account_id: Id | None = None
    stage_id: Id | None = None
    status: str | None = None
    close_after: Annotated[datetime.date | None, FilterLookup("expected_close_date__gte")] = None
    close_before: Annotated[datetime.date | None, FilterLookup("expected_close_date__lte")] = None


router = build_crud_router(
    model=Opportunity,
    out_schema=OpportunityOut,
    create_schema=OpportunityIn,
    update_schema=OpportunityPatch,
    filter_schema=OpportunityFilter,
    create=lambda *, user, payload: actions.create_opportunity(user=user, data=payload_data(Opportunity, payload)),
    update=lambda *, instance, user, payload, expected_version: actions.update_opportunity(
        opportunity=instance,
        user=user,
        data=payload_data(Opportunity, payload, partial=True),
        expected_version=expected_version,
    ),
    delete=lambda *, instance, user, expected_version: actions.delete_opportunity(
        opportunity=instance, user=user, expected_version=expected_version
    ),
    transfer=actions.transfer_opportunities,
    orderings={
        "created_at": "created_at",
        "updated_at": "updated_at",
        "amount": "amount",
        "expected_close_date": "expected_close_date",
    },
    select_related=("owner", "account", "stage"),
    tags=["opportunities"],
)


class StageOut(Schema):
    id: int
    name: str
    probability: int
    sort_order: int
    status: str


stages_router = Router(tags=["opportunities"])


@stages_router.get("/", response=list[StageOut], summary="List the sales stages")
def list_stages(request):
    return list(Stage.objects.filter(is_active=True))
