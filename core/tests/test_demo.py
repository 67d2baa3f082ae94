"""The demo command builds a company a visitor can click through: these are the things he would notice."""

import io

import phonenumbers
import pytest
from django.core.management import call_command
from django.db.models import Count, F

from accounts.models import Account
from contacts.choices import BuyingRole
from contacts.models import Contact
from core.choices import ObjectType
from core.regions import regions
from core.validators import validate_credit_code
from followups.models import FollowUp
from leads.choices import LeadStatus
from leads.models import Lead
from opportunities.choices import OpportunityStatus
from opportunities.models import Opportunity
from org.models import Department, User
from search.service import search


@pytest.fixture
def demo(db):
    call_command("demo", scale=300, seed=1, stdout=io.StringIO())


def test_org_chart_and_users(demo):
    assert Department.objects.filter(depth__gte=2).exists()
    for d in Department.objects.select_related("parent"):
        expected = (d.parent.path if d.parent else "/") + f"{d.pk}/"
        assert d.path == expected and d.depth == d.path.count("/") - 2
    users = list(User.objects.prefetch_related("roles").select_related("department"))
    assert 25 <= len(users) <= 40
    assert all(u.department_id and u.roles.all() for u in users)
    assert sum(1 for u in users if u.manager_id is None) == 1  # only the head of the group
    admin = User.objects.get(username="admin")
    assert admin.is_staff and not admin.is_superuser and admin.roles.filter(code="admin").exists()
    assert admin.check_password("tide-demo-2026")
    assert {"sales_director", "sales_manager", "sales_rep"} <= {r.code for u in users for r in u.roles.all()}


def test_accounts_form_group_trees_with_valid_data(demo):
    assert Account.objects.count() >= 60
    grandchildren = Account.objects.filter(parent__parent__isnull=False)
    assert grandchildren.exists()
    assert Account.objects.annotate(n=Count("children")).filter(n__gte=2).exists()
    codes = [c for c in Account.objects.values_list("credit_code", flat=True) if c]
    assert len(codes) == len(set(codes)) > 30
    for code in codes:
        validate_credit_code(code)
    r = regions()
    for a in Account.objects.all():
        assert not r.validate(a.province_code, a.city_code, a.district_code), a.name
        assert a.owner_id and a.grade in "ABCD"
    assert Account.tags.through.objects.exists()


def test_contacts_leads_deals_and_followups(demo):
    contacts = list(Contact.objects.all())
    assert len(contacts) > Account.objects.count()
    assert all(c.buying_role in BuyingRole.values or c.buying_role == "" for c in contacts)
    for value in [c.mobile for c in contacts if c.mobile][:50]:
        assert value.startswith("+861") and phonenumbers.is_valid_number(phonenumbers.parse(value))

    assert Lead.objects.count() == 300
    assert Lead.objects.filter(owner__isnull=True).exists()
    assert Lead.objects.filter(owner__isnull=False).exists()
    assert not Lead.objects.filter(status=LeadStatus.INVALID, invalid_reason="").exists()
    assert Lead.objects.values("created_at").distinct().count() > 250

    opportunities = Opportunity.objects.all()
    assert opportunities.count() >= 30
    assert not opportunities.exclude(status=F("stage__status")).exists()
    assert not opportunities.filter(status=OpportunityStatus.LOST, lost_reason="").exists()

    assert FollowUp.objects.count() >= 60
    assert FollowUp.objects.filter(lead__isnull=False).exists()
    assert not FollowUp.objects.filter(contact__isnull=False, account__isnull=True).exists()


def test_search_finds_famous_company(demo):
    admin = User.objects.get(username="admin")
    for query in ("华为", "hwjs", "huawei"):
        titles = [hit.title for hit in search(admin, query).groups.get(ObjectType.ACCOUNT, [])]
        assert "深圳市华为技术有限公司" in titles or any("华为" in t for t in titles), query
    hits = search(admin, "hwjs").groups.get(ObjectType.ACCOUNT, [])
    assert any(hit.title == "深圳市华为技术有限公司" for hit in hits)


def test_if_empty_skips_a_filled_database(demo):
    before = Account.objects.count()
    out = io.StringIO()
    call_command("demo", scale=300, if_empty=True, stdout=out)
    assert "nothing to do" in out.getvalue()
    assert Account.objects.count() == before


@pytest.mark.django_db
def test_demo_puts_ownerless_leads_in_a_public_pool_with_rules():
    from django.core.management import call_command

    from accounts.models import Account
    from leads.models import Lead
    from pools.models import Pool

    call_command("demo", scale=300, seed=3, stdout=__import__("io").StringIO())
    lead_pool = Pool.objects.get(object_type="lead")
    assert Pool.objects.filter(object_type="account").exists() and lead_pool.rules.exists()
    unowned = Lead.objects.filter(owner__isnull=True)
    assert unowned.exists() and not unowned.exclude(pool=lead_pool).exists()
    assert not Lead.objects.filter(owner__isnull=False, owner_since__isnull=True).exists()
    assert Account.objects.filter(last_followup_at__isnull=False).exists()
