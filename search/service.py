"""Global search across the four searchable objects, scoped by the permission point."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.choices import Action, ObjectType

from .backends import filter_matching
from .tokens import query_terms


@dataclass
class SearchHit:
    object_type: str
    id: int
    title: str
    subtitle: str
    url: str


@dataclass
class SearchResults:
    query: str
    groups: dict[str, list[SearchHit]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.groups.values())


def _models():
    from accounts.models import Account
    from contacts.models import Contact
    from leads.models import Lead
    from opportunities.models import Opportunity

    return {
        ObjectType.ACCOUNT: (Account, ["owner"], lambda a: (a.name, a.region_label or a.get_industry_display())),
        ObjectType.CONTACT: (
            Contact,
            ["account", "owner"],
            lambda c: (c.name, " · ".join(x for x in [c.account.name, c.title] if x)),
        ),
        ObjectType.LEAD: (Lead, ["owner"], lambda lead: (lead.company, lead.contact_name)),
        ObjectType.OPPORTUNITY: (
            Opportunity,
            ["account", "stage"],
            lambda o: (o.name, f"{o.account.name} · {o.stage.name}"),
        ),
    }


def search(user, query: str, *, types=None, limit: int = 10) -> SearchResults:
    results = SearchResults(query=query)
    if not query_terms(query):
        return results
    for object_type, (model, related, describe) in _models().items():
        if types and object_type not in types:
            continue
        qs = (
            filter_matching(model.objects.visible_to(user, Action.VIEW), query)
            .select_related(*related)
            .order_by("-updated_at", "-id")[:limit]
        )
        hits = []
        for obj in qs:
            title, subtitle = describe(obj)
            hits.append(SearchHit(object_type, obj.pk, title, subtitle or "", obj.get_absolute_url()))
        if hits:
            results.groups[object_type] = hits
    return results
