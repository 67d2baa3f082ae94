"""The rules run however a lead arrives: the page, the API, the public web form and an import."""

import csv
import io
import time
from collections import Counter

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def reps(org):
    return [org.user(f"rep{i}", org.sh, scope=Scope.OWN) for i in range(1, 3)]


@pytest.fixture
def rules(org, reps):
    from assignment import actions

    actions.create_rule(
        user=org.admin,
        data={"name": "深圳", "strategy": "users", "conditions": {"field": "region", "op": "in", "value": ["4403"]}},
        member_ids=[reps[1].pk],
    )
    actions.create_rule(
        user=org.admin, data={"name": "其余", "strategy": "round_robin"}, member_ids=[u.pk for u in reps]
    )


def test_page_and_api(org, reps, rules, web_for, api_for):
    from leads.models import Lead

    web_for(org.admin).post("/leads/new/", {"company": "页面公司", "source": "other", "status": "new"})
    api_for(org.admin).post("/leads/", {"company": "接口公司", "province_code": "44", "city_code": "4403"})
    assert Lead.objects.get(company="页面公司").owner == reps[0]
    assert Lead.objects.get(company="接口公司").owner == reps[1]


def test_public_web_form(org, reps, rules):
    from django.core import signing
    from django.core.cache import cache
    from django.test import Client

    from capture.models import WebForm
    from leads.models import Lead

    cache.clear()
    form = WebForm.objects.create(
        name="官网",
        title="申请试用",
        run_as=org.admin,
        fields=[{"name": "company", "required": True}, {"name": "contact_name", "required": False}],
    )
    timer = signing.dumps(int(time.time()) - 30, salt="capture.form-timer")
    for company in ("表单一", "表单二"):
        response = Client().post(f"/f/{form.key}/", {"timer": timer, "company": company}, REMOTE_ADDR="10.0.0.9")
        assert response.status_code == 200
    assert Counter(Lead.objects.filter(source="web_form").values_list("owner__username", flat=True)) == {
        "rep1": 1,
        "rep2": 1,
    }


def test_import(org, reps, rules):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports import actions, pipeline
    from imports.choices import JobStatus
    from imports.models import ImportJob
    from leads.models import Lead

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["客户名称", "省份", "城市"])
    writer.writerows([["深圳甲公司", "广东", "深圳市"], ["乙公司", "", ""], ["丙公司", "", ""], ["丁公司", "", ""]])
    upload = SimpleUploadedFile("leads.csv", out.getvalue().encode("utf-8-sig"), content_type="text/csv")
    job = actions.upload(user=org.admin, uploaded_file=upload)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    assert pipeline.run_job(job.pk).created_count == 4
    assert Lead.objects.get(company="深圳甲公司").owner == reps[1]
    others = Lead.objects.exclude(company="深圳甲公司").order_by("id").values_list("owner__username", flat=True)
    assert list(others) == ["rep1", "rep2", "rep1"]
