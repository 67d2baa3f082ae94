"""For every object type × data scope × path (page, API list, API detail, API update, search, export),
a user outside the scope gets nothing: not the record, not its name in a search hit, not its count."""

import csv
import datetime
import io

import pytest

from core.choices import Scope

TYPES = ["account", "contact", "lead", "opportunity", "followup"]
API = {
    "account": "/accounts/",
    "contact": "/contacts/",
    "lead": "/leads/",
    "opportunity": "/opportunities/",
    "followup": "/followups/",
}
PAGES = {
    "account": "/accounts/",
    "contact": "/contacts/",
    "lead": "/leads/",
    "opportunity": "/opportunities/",
    "followup": "/followups/",
}
PATCH = {
    "account": {"address": "新地址"},
    "contact": {"title": "经理"},
    "lead": {"title": "经理"},
    "opportunity": {"notes": "x"},
    "followup": {"next_step": "再约"},
}
SEARCHABLE = {"account", "contact", "lead", "opportunity"}


class World:
    def __init__(self, org):
        from accounts.models import Account
        from contacts.models import Contact
        from followups.models import FollowUp
        from leads.models import Lead
        from opportunities.models import Opportunity, Stage

        self.org = org
        # viewers, one per scope
        self.viewers = {
            Scope.OWN: org.user("vown", org.sh, scope=Scope.OWN),
            Scope.DEPARTMENT: org.user("vdept", org.east, scope=Scope.DEPARTMENT),
            Scope.SUBTREE: org.user("vtree", org.east, scope=Scope.SUBTREE),
            Scope.ALL: org.user("vall", org.south, scope=Scope.ALL),
        }
        owners = {
            "vown": self.viewers[Scope.OWN],
            "osh": org.user("osh", org.sh),
            "oeast": org.user("oeast", org.east),
            "osouth": org.user("osouth", org.south),
            "ogroup": org.user("ogroup", org.group),
        }
        stage = Stage.objects.first()
        self.records = {t: {} for t in TYPES}  # type -> owner name -> record
        self.names = {t: {} for t in TYPES}
        for key, owner in owners.items():
            word = f"zq{key}"
            account = Account.objects.create(name=f"{word}account", owner=owner)
            contact = Contact.objects.create(account=account, name=f"{word}contact", owner=owner)
            lead = Lead.objects.create(company=f"{word}lead", owner=owner)
            opportunity = Opportunity.objects.create(
                account=account,
                name=f"{word}opportunity",
                owner=owner,
                stage=stage,
                expected_close_date=datetime.date(2027, 1, 1),
            )
            followup = FollowUp.objects.create(account=account, content=f"{word}followup", owner=owner)
            for t, obj, name in [
                ("account", account, account.name),
                ("contact", contact, contact.name),
                ("lead", lead, lead.company),
                ("opportunity", opportunity, opportunity.name),
                ("followup", followup, followup.content),
            ]:
                self.records[t][key] = obj
                self.names[t][key] = name

    EXPECTED = {
        Scope.OWN: {"vown"},
        Scope.DEPARTMENT: {"oeast"},  # east only: not its sub-department 上海大区
        Scope.SUBTREE: {"oeast", "osh", "vown"},
        Scope.ALL: {"vown", "osh", "oeast", "osouth", "ogroup"},
    }


@pytest.fixture
def world(org):
    return World(org)


def _names_in(text, names_by_owner):
    return {owner for owner, name in names_by_owner.items() if name in text}


@pytest.mark.django_db
@pytest.mark.parametrize("scope", [Scope.OWN, Scope.DEPARTMENT, Scope.SUBTREE, Scope.ALL], ids=lambda s: s.name)
@pytest.mark.parametrize("object_type", TYPES)
def test_scope_is_enforced_on_every_path(world, api_for, web_for, object_type, scope):
    viewer = world.viewers[scope]
    expected = World.EXPECTED[scope]
    records = world.records[object_type]
    names = world.names[object_type]
    api = api_for(viewer)
    web = web_for(viewer)

    # page: list and its count, detail pages
    page = web.get(PAGES[object_type]).content.decode()
    assert _names_in(page, names) == expected
    assert f">{len(expected)} record" in page
    for owner, record in records.items():
        status = web.get(f"{PAGES[object_type]}{record.pk}/").status_code
        assert status == (200 if owner in expected else 404), (owner, status)

    # API list, detail and update
    listed = api.get(API[object_type], {"limit": 200}).json_body["results"]
    assert {r["id"] for r in listed} == {records[o].pk for o in expected}
    for owner, record in records.items():
        detail = api.get(f"{API[object_type]}{record.pk}")
        update = api.patch(f"{API[object_type]}{record.pk}", PATCH[object_type])
        if owner in expected:
            assert detail.status_code == 200 and update.status_code == 200, (owner, update.json_body)
        else:
            assert detail.status_code == 404 and update.status_code == 404, owner
            assert names[owner] not in detail.content.decode() + update.content.decode()

    # global search: no hit, no name of a record outside the scope
    if object_type in SEARCHABLE:
        hits = api.get("/search/", {"q": "zq", "types": object_type, "limit": 50}).json_body["results"]
        assert {h["id"] for h in hits} == {records[o].pk for o in expected}
        search_page = web.get("/search/", {"q": "zq"}).content.decode()
        assert _names_in(search_page, names) == expected

    # export
    export = web.get(PAGES[object_type], {"export": "csv"})
    assert export.status_code == 200
    body = b"".join(export.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert {int(r[0]) for r in rows} == {records[o].pk for o in expected}


@pytest.mark.django_db
def test_a_user_without_any_grant_sees_nothing_anywhere(world, org, api_for, web_for):
    nobody = org.user("nobody", org.sh)
    api = api_for(nobody)
    for object_type in TYPES:
        assert api.get(API[object_type]).json_body["results"] == []
        record = world.records[object_type]["vown"]
        assert api.get(f"{API[object_type]}{record.pk}").status_code == 404
        assert web_for(nobody).get(PAGES[object_type]).status_code == 403
    assert api.get("/search/", {"q": "zq"}).json_body["results"] == []
    page = web_for(nobody).get("/search/", {"q": "zq"}).content.decode()
    assert not any(name in page for names in world.names.values() for name in names.values())


@pytest.mark.django_db
def test_export_needs_the_export_grant(world, org, web_for):
    viewer = org.user("noexport", org.sh, scope=Scope.ALL, actions=("view",))
    assert web_for(viewer).get("/accounts/", {"export": "csv"}).status_code == 403


@pytest.mark.django_db
def test_view_grant_does_not_give_edit_or_delete(world, org, api_for):
    from core.choices import ObjectType

    reader = org.user("reader", org.sh, scope=Scope.ALL, actions=("view",), types=[ObjectType.ACCOUNT])
    api = api_for(reader)
    account = world.records["account"]["osouth"]
    assert api.get(f"/accounts/{account.pk}").status_code == 200
    assert api.patch(f"/accounts/{account.pk}", {"address": "x"}).status_code == 404
    assert api.delete(f"/accounts/{account.pk}").status_code == 404
    r = api.post("/accounts/", {"name": "新客户"})
    assert r.status_code == 403 and r.json_body["code"] == "permission_denied"


@pytest.mark.django_db
def test_widest_role_wins(world, org, api_for):
    from core.choices import ObjectType

    user = org.user("tworoles", org.sh, scope=Scope.OWN)
    user.roles.add(org.role(Scope.ALL, actions=("view",), types=[ObjectType.LEAD]))
    api = api_for(user)
    ids = {r["id"] for r in api.get("/leads/", {"limit": 200}).json_body["results"]}
    assert ids == {lead.pk for lead in world.records["lead"].values()}
    # but edit stays at the narrower role's scope
    other = world.records["lead"]["osouth"]
    assert api.patch(f"/leads/{other.pk}", {"title": "x"}).status_code == 404


@pytest.mark.django_db
def test_team_members_see_and_edit_shared_records(world, org, api_for):
    from core import actions as core_actions

    rep = world.viewers[Scope.OWN]
    opportunity = world.records["opportunity"]["osouth"]
    api = api_for(rep)
    assert api.get(f"/opportunities/{opportunity.pk}").status_code == 404
    core_actions.share_record(instance=opportunity, user=org.admin, member=rep, access="view")
    assert api.get(f"/opportunities/{opportunity.pk}").status_code == 200
    assert api.patch(f"/opportunities/{opportunity.pk}", {"notes": "x"}).status_code == 404
    core_actions.share_record(instance=opportunity, user=org.admin, member=rep, access="edit")
    assert api.patch(f"/opportunities/{opportunity.pk}", {"notes": "团队备注"}).status_code == 200
    assert api.delete(f"/opportunities/{opportunity.pk}").status_code == 404  # sharing never gives delete
    core_actions.unshare_record(instance=opportunity, user=org.admin, member=rep)
    assert api.get(f"/opportunities/{opportunity.pk}").status_code == 404


@pytest.mark.django_db
def test_contacts_and_followups_are_visible_through_their_account(world, org, api_for):
    from core import actions as core_actions

    rep = world.viewers[Scope.OWN]
    account = world.records["account"]["osouth"]
    contact = world.records["contact"]["osouth"]
    followup = world.records["followup"]["osouth"]
    api = api_for(rep)
    assert api.get(f"/contacts/{contact.pk}").status_code == 404
    core_actions.share_record(instance=account, user=org.admin, member=rep, access="view")
    assert api.get(f"/contacts/{contact.pk}").status_code == 200
    assert api.get(f"/followups/{followup.pk}").status_code == 200
    # seeing through the account is read-only
    assert api.patch(f"/contacts/{contact.pk}", {"title": "x"}).status_code == 404
