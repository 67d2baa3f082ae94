"""Pool fixtures: a lead pool and an account pool open to 华东分公司 (and so to 上海大区 below it)."""

import datetime

import pytest
from django.utils import timezone

from core.choices import Scope

TZ = datetime.timezone(datetime.timedelta(hours=8))


def at(day: str, hour: int = 10) -> datetime.datetime:
    """An aware datetime in Asia/Shanghai: at("2026-11-26", 9)."""
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


class World:
    def __init__(self, org):
        from pools.models import Pool

        self.org = org
        self.rep = org.user("rep", org.sh, scope=Scope.OWN)
        self.rep2 = org.user("rep2", org.east, scope=Scope.OWN)
        self.outsider = org.user("outsider", org.south, scope=Scope.OWN)
        self.boss = org.user("boss", org.east, scope=Scope.SUBTREE)
        self.lead_pool = Pool.objects.create(name="华东线索公海", object_type="lead")
        self.lead_pool.member_departments.add(org.east)
        self.lead_pool.admins.add(self.boss)
        self.account_pool = Pool.objects.create(name="华东客户公海", object_type="account")
        self.account_pool.member_departments.add(org.east)
        self.account_pool.admins.add(self.boss)

    def lead(self, company="上海浦东测试科技有限公司", *, owner=None, pool=None, owner_since=None, **extra):
        from leads.models import Lead

        pool = self.lead_pool if pool is None else pool
        return Lead.objects.create(
            company=company,
            owner=owner,
            pool=pool or None,
            owner_since=owner_since if owner is not None else None,
            **extra,
        )

    def account(self, name="上海测试客户有限公司", *, owner=None, pool=None, owner_since=None, **extra):
        from accounts.models import Account

        pool = self.account_pool if pool is None else pool
        return Account.objects.create(
            name=name,
            owner=owner,
            pool=pool or None,
            owner_since=owner_since if owner is not None else None,
            **extra,
        )

    def rule(self, pool=None, **data):
        from pools.models import RecyclingRule

        pool = pool or self.lead_pool
        data.setdefault("name", "30 天未跟进")
        data.setdefault("kind", "no_followup")
        data.setdefault("days", 30)
        rule = RecyclingRule(pool=pool, **data)
        rule.full_clean()
        rule.save()
        return rule

    def opportunity(self, account, *, status="open", created_at=None, owner=None):
        from opportunities.models import Opportunity, Stage

        stage = Stage.objects.filter(status=status).first()
        opp = Opportunity.objects.create(
            account=account,
            name=f"{account.name} 项目",
            amount=1000,
            expected_close_date=datetime.date(2026, 12, 31),
            stage=stage,
            status=status,
            owner=owner or account.owner or self.rep,
            lost_reason="价格" if status == "lost" else "",
        )
        if created_at:
            Opportunity.all_objects.filter(pk=opp.pk).update(created_at=created_at)
        return opp


@pytest.fixture
def world(org):
    return World(org)


@pytest.fixture
def now():
    return timezone.now()
