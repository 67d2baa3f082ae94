"""Global search finds what a Chinese user types: substrings, full pinyin, initials, phone digits."""

import pytest

from core.choices import Scope
from search.service import search
from search.tokens import name_tokens, query_terms

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(org):
    return org.user("rep", org.sh, scope=Scope.OWN)


@pytest.fixture
def data(rep):
    from accounts.models import Account
    from contacts.models import Contact
    from leads.models import Lead

    huawei = Account.objects.create(name="深圳市华为技术有限公司", owner=rep, phone="+8675528780808")
    Account.objects.create(name="广州汽车集团股份有限公司", short_name="广汽集团", owner=rep)
    Account.objects.create(name="重庆长安汽车股份有限公司", owner=rep)
    Contact.objects.create(account=huawei, name="张伟", mobile="+8613812345678", owner=rep)
    Lead.objects.create(company="ABB（中国）有限公司", contact_name="李娜", phone="+8613987654321", owner=rep)
    return huawei


def titles(user, query, **kw):
    found = search(user, query, **kw)
    return {hit.title for hits in found.groups.values() for hit in hits}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("华为", "深圳市华为技术有限公司"),
        ("华为技术", "深圳市华为技术有限公司"),
        ("深圳市华为技术有限公司", "深圳市华为技术有限公司"),
        ("huawei", "深圳市华为技术有限公司"),
        ("HuaWei", "深圳市华为技术有限公司"),
        ("hwjs", "深圳市华为技术有限公司"),
        ("szshw", "深圳市华为技术有限公司"),
        ("广汽", "广州汽车集团股份有限公司"),
        ("gqjt", "广州汽车集团股份有限公司"),
        ("chongqing", "重庆长安汽车股份有限公司"),
        ("长安汽车", "重庆长安汽车股份有限公司"),
        ("张伟", "张伟"),
        ("zhangwei", "张伟"),
        ("5678", "张伟"),
        ("138 1234 5678", "张伟"),
        ("13812345678", "张伟"),
        ("4321", "ABB（中国）有限公司"),
        ("abb", "ABB（中国）有限公司"),
        ("ＡＢＢ", "ABB（中国）有限公司"),
        ("李娜", "ABB（中国）有限公司"),
        ("华为 张伟", None),
    ],
)
def test_search_finds_what_users_type(rep, data, query, expected):
    found = titles(rep, query)
    if expected is None:
        assert found == set()  # two words must both match the same record
    else:
        assert expected in found, (query, found)


def test_search_does_not_match_what_is_not_there(rep, data):
    assert titles(rep, "华为汽车") == set()
    assert titles(rep, "xyzq") == set()
    assert titles(rep, "   ") == set()
    assert titles(rep, "%_'\"*") == set()


def test_search_follows_edits_and_deletes(rep, data):
    from core import actions as core_actions

    core_actions.update_record(instance=data, user=rep, data={"name": "深圳市鸿蒙科技有限公司"})
    assert "深圳市鸿蒙科技有限公司" in titles(rep, "hongmeng")
    assert titles(rep, "华为") == set()


def test_search_is_scoped(org, data):
    outsider = org.user("outsider", org.south, scope=Scope.OWN)
    assert titles(outsider, "华为") == set()
    manager = org.user("boss", org.east, scope=Scope.SUBTREE)
    assert "深圳市华为技术有限公司" in titles(manager, "华为")


def test_tokens_are_prefix_suffixes():
    tokens = name_tokens("华为技术")
    assert {"华为技术", "为技术", "技术", "huaweijishu", "weijishu", "hwjs", "wjs"} <= tokens
    assert query_terms("138-0013") == [["1380013", "r3100831"]]
