from ninja import Field, Query, Router, Schema

from core.choices import ObjectType

from .service import search

router = Router(tags=["search"])


class SearchParams(Schema):
    q: str = Field(
        ..., min_length=1, max_length=100, description="Chinese substring, full pinyin, initials or phone digits"
    )
    types: str | None = Field(None, description="Comma-separated: account, contact, lead, opportunity")
    limit: int = Field(10, ge=1, le=50, description="Hits per object type")


class HitOut(Schema):
    object_type: str
    id: int
    title: str
    subtitle: str
    url: str


class SearchOut(Schema):
    query: str
    results: list[HitOut]


@router.get("/", response=SearchOut, summary="Global search over accounts, contacts, leads and opportunities")
def global_search(request, params: Query[SearchParams]):
    types = None
    if params.types:
        types = {t.strip() for t in params.types.split(",") if t.strip() in ObjectType.values}
    found = search(request.user, params.q, types=types, limit=params.limit)
    return {"query": params.q, "results": [hit for hits in found.groups.values() for hit in hits]}
