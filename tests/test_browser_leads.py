"""Leads that flow, in a real headless Chromium: a sales assistant imports a GBK spreadsheet at a desk (map,
preview, progress bar, what became of each row, the rejected rows as a file), and a rep on a phone claims
from the public pool, meets the daily limit, returns a lead with a reason and converts another.

Shares tests/test_browser.py's browser and tab (skipped the same way where there is no Chromium)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from core.choices import Scope
from tests.test_browser import DESKTOP, PASSWORD, PHONE, browser, expect, run_visit  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _defaults(transactional_db):
    from conftest import seed_defaults

    seed_defaults()


def log_in(visit, user):
    page = visit.page
    visit.goto("/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    visit.submit(page.locator("form"))
    expect(page.locator("nav.navbar")).to_be_visible()


HEADER = ["客户名称", "联系人", "手机", "邮箱", "省份", "线索来源"]
ROWS = [
    ["深圳市华为技术有限公司", "张三", "138 0013 8000", "ZHANG@huawei.com", "广东", "展会"],
    ["同事客户科技有限公司", "李四", "13912345678", "", "上海", "官网"],  # a colleague's lead has this phone
    ["坏电话公司", "王五", "12345", "not-an-email", "火星", ""],  # rejected: phone, email, province
    ['=HYPERLINK("http://x")', "公式", "13600000000", "", "", ""],
]


def test_an_assistant_imports_a_gbk_spreadsheet_and_sees_what_became_of_each_row(browser, live_server, org):  # noqa: F811
    from imports import pipeline
    from imports.models import ImportJob
    from leads.models import Lead

    assistant = org.user("assistant", org.sh, scope=Scope.OWN)
    colleague = org.user("colleague", org.south, scope=Scope.OWN)
    hidden = Lead.objects.create(company="同事的线索", phone="+8613912345678", owner=colleague)
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *ROWS])
    data = out.getvalue().encode("gbk")

    def scenario(visit):
        page = visit.page
        log_in(visit, assistant)
        visit.goto("/imports/")
        page.set_input_files("#id_file", files=[{"name": "展会线索.csv", "mimeType": "text/csv", "buffer": data}])
        with page.expect_navigation():
            page.locator("main form button").click()
        match = re.fullmatch(r"/imports/(\d+)/", visit.path())
        assert match, visit.path()
        job_id = int(match.group(1))
        # The columns were recognised by their Chinese titles; the preview shows the normalised values and,
        # on the bad row, what is wrong with it.
        expect(page.locator("#col_2")).to_have_value("phone")
        preview = page.get_by_test_id("preview")
        expect(preview).to_contain_text("+8613800138000")
        expect(preview.locator("tr.table-danger")).to_have_count(1)
        visit.shot("import-mapping")
        with page.expect_navigation():
            page.locator("button[name=start]").click()
        expect(page.get_by_test_id("progress")).to_be_visible()
        # The worker picks the job up (here: the test, as `db_worker` would); the page follows by itself.
        assert ImportJob.objects.get(pk=job_id).status == "queued"
        pipeline.run_job(job_id)
        rows = page.get_by_test_id("rows")
        expect(rows).to_be_visible()
        expect(page.get_by_test_id("progress")).to_contain_text("100%")
        expect(rows.locator("tr[data-row]")).to_have_count(4)
        huawei = Lead.objects.get(company="深圳市华为技术有限公司")
        expect(rows.locator(f"tr[data-row='1'] a[href='/leads/{huawei.pk}/']")).to_be_visible()
        visit.shot("import-done")
        # The skipped row names whose lead it matched, never the lead itself.
        page.locator("a[href='?outcome=skipped']").click()
        expect(rows.locator("tr[data-row]")).to_have_count(1)
        skipped = rows.locator("tr[data-row='2']")
        expect(skipped).to_contain_text(colleague.name)
        expect(skipped.locator("a")).to_have_count(0)
        assert hidden.company not in page.content()
        # The rejected rows come back as a file with a reason column, formulas defused.
        with page.expect_download() as download:
            page.locator(f"a[href='/imports/{job_id}/rejected.csv']").click()
        text = download.value.path().read_bytes().decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        assert lines[0][-1] in ("原因", "Reason") and len(lines) == 2
        assert lines[1][0] == "坏电话公司" and "12345" in lines[1][-1]

    run_visit(browser, live_server, DESKTOP, "import", scenario)
    assert Lead.objects.filter(company__contains="HYPERLINK").count() == 1


def test_a_rep_on_a_phone_claims_returns_and_converts_leads(browser, live_server, org):  # noqa: F811
    from accounts.models import Account
    from leads.models import Lead
    from pools.models import ClaimLog, Pool

    rep = org.user("rep", org.sh, scope=Scope.OWN)
    pool = Pool.objects.create(name="华东线索公海", object_type="lead", daily_claim_limit=2)
    pool.member_departments.add(org.east)
    first, second, third = (
        Lead.objects.create(company=name, contact_name="赵六", phone=phone, pool=pool)
        for name, phone in (
            ("上海浦东软件有限公司", "13500000001"),
            ("杭州西湖电子有限公司", "13500000002"),
            ("南京紫金材料有限公司", "13500000003"),
        )
    )

    def scenario(visit):
        page = visit.page
        log_in(visit, rep)
        visit.goto(f"/pools/{pool.pk}/")
        expect(page.get_by_test_id("claim-state")).to_contain_text("2")
        visit.shot("pool")
        for left, lead in ((1, first), (0, second)):  # claimed in place (HTMX): the row and the count say so
            row = page.locator(f"tr[data-record='{lead.pk}']")
            row.locator("button[formaction$='/claim/']").click()
            expect(row.get_by_role("status")).to_be_visible()
            expect(page.get_by_test_id("claim-state").locator(".badge").first).to_have_text(re.compile(rf"\b{left}$"))
        third_row = page.locator(f"tr[data-record='{third.pk}']")
        third_row.locator("button[formaction$='/claim/']").click()
        expect(third_row.get_by_test_id("claim-error")).to_be_visible()  # the daily limit, said in the row
        visit.shot("pool-daily-limit")

        # Return the first with a reason, from the lead's own page.
        page.locator(f"tr[data-record='{first.pk}'] a[href='/leads/{first.pk}/']").click()
        expect(page).to_have_url(re.compile(rf"/leads/{first.pk}/$"))
        panel = page.get_by_test_id("pool-panel")
        panel.locator("select[name=reason]").select_option("unreachable")
        visit.shot("lead-return")
        with page.expect_navigation():
            panel.locator("form button").click()
        expect(page.locator(".alert-success")).to_be_visible()

        # Convert the second into an account, a contact and an opportunity in one step.
        visit.goto(f"/leads/{second.pk}/convert/")
        expect(page.locator("#id_account_name")).to_have_value("杭州西湖电子有限公司")
        page.locator("#id_create_opportunity").check()
        page.fill("#id_opportunity_name", "产线改造项目")
        page.fill("#id_opportunity_amount", "350000")
        visit.shot("lead-convert")
        visit.submit(page.locator("main form"))
        converted = page.get_by_test_id("converted")  # the lead links to what it became
        account = Account.objects.get(name="杭州西湖电子有限公司")
        expect(converted.locator(f"a[href='/accounts/{account.pk}/']")).to_be_visible()
        visit.shot("lead-converted")

    run_visit(browser, live_server, PHONE, "pool", scenario)
    first.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert (first.owner_id, first.pool_id) == (None, pool.pk)
    assert ClaimLog.objects.filter(object_id=first.pk, action="release", reason="unreachable").exists()
    assert second.status == "converted" and second.converted_account == Account.objects.get(name="杭州西湖电子有限公司")
    assert second.converted_opportunity.name == "产线改造项目" and second.converted_opportunity.owner == rep
    assert third.owner_id is None


def test_an_admin_writes_an_assignment_rule_and_the_next_lead_follows_it(browser, live_server, org):  # noqa: F811
    """At a desk: a rule with two condition rows (the second added by the page's script) sends exhibition
    leads from Shanghai to one rep; a lead entered next goes to him, and his bell says so."""
    from assignment.models import AssignmentRule
    from leads.models import Lead

    wang = org.user("wangwu", org.sh, scope=Scope.OWN)
    Lead.objects.create(company="旧线索", owner=wang)  # the bell counts only what comes next

    def admin(visit):
        page = visit.page
        log_in(visit, org.admin)
        visit.goto("/assignment/rules/new/")
        page.fill("#id_name", "上海展会线索")
        page.select_option("#id_strategy", "users")
        page.get_by_test_id("members").locator("select[name=member]").first.select_option(str(wang.pk))
        builder = page.locator("[data-builder]")
        rows = builder.locator("[data-row]")
        count = rows.count()
        builder.locator("[data-add-row]").click()
        expect(rows).to_have_count(count + 1)
        rows.nth(0).locator("select[name$='-field']").select_option("source")
        rows.nth(0).locator("select[name$='-op']").select_option("in")
        rows.nth(0).locator("input[name$='-value']").fill("exhibition")
        last = rows.nth(count)
        last.locator("select[name$='-field']").select_option("province_code")
        last.locator("select[name$='-op']").select_option("in")
        last.locator("input[name$='-value']").fill("31")
        visit.shot("assignment-rule")
        visit.submit(page.locator("main form").first)
        assert visit.path() == "/assignment/", visit.path()
        expect(page.locator("main")).to_contain_text("上海展会线索")

        visit.goto("/leads/new/")
        page.fill("#id_company", "上海张江芯片有限公司")
        page.select_option("#id_source", "exhibition")
        page.select_option("#id_province_code", "31")
        visit.submit(page.locator("main form").first)
        assert re.fullmatch(r"/leads/\d+/", visit.path()), visit.path()
        visit.shot("lead-assigned")

    def rep(visit):
        page = visit.page
        log_in(visit, wang)
        expect(page.get_by_test_id("bell")).to_contain_text("1")
        visit.goto("/notifications/")
        expect(page.locator("main")).to_contain_text("上海张江芯片有限公司")
        visit.shot("rep-notified")

    run_visit(browser, live_server, DESKTOP, "assignment", admin)
    rule = AssignmentRule.objects.get(name="上海展会线索")
    assert rule.conditions == {
        "all": [
            {"field": "source", "op": "in", "value": ["exhibition"]},
            {"field": "province_code", "op": "in", "value": ["31"]},
        ]
    }, rule.conditions
    assert Lead.objects.get(company="上海张江芯片有限公司").owner == wang
    run_visit(browser, live_server, PHONE, "assignment-rep", rep)


def test_the_lead_flow_pages_fit_a_phone(browser, live_server, org):  # noqa: F811
    """Every page of the lead flow, opened by an admin on a 390 px phone: no page wider than the screen, no
    script error, no failed request (Visit checks all three on each screenshot)."""
    from capture.models import WebForm
    from leads.models import Lead
    from pools.models import Pool, RecyclingRule

    pool = Pool.objects.create(name="华东线索公海", object_type="lead", daily_claim_limit=5)
    pool.member_departments.add(org.east)
    rule = RecyclingRule.objects.create(pool=pool, name="30 天未跟进", kind="no_followup", days=30)
    lead = Lead.objects.create(
        company="上海浦东新区张江高科技园区某某软件技术股份有限公司",
        contact_name="欧阳娜娜",
        phone="+8613800138000",
        pool=pool,
    )
    Lead.objects.create(company="上海浦东张江某某软件有限公司", phone="+8613800138001", owner=org.admin)
    form = WebForm.objects.create(name="官网留资表单", title="申请试用", run_as=org.admin)
    pages = [
        "/leads/",
        f"/leads/{lead.pk}/",
        f"/leads/{lead.pk}/convert/",
        "/pools/",
        f"/pools/{pool.pk}/",
        f"/pools/{pool.pk}/records/{lead.pk}/",
        f"/pools/{pool.pk}/settings/",
        f"/pools/{pool.pk}/members/",
        f"/pools/{pool.pk}/rules/",
        f"/pools/{pool.pk}/rules/{rule.pk}/",
        "/pools/due/",
        "/pools/holidays/",
        "/duplicates/check/?object=lead&name=张江软件",
        "/duplicates/rules/",
        "/duplicates/merges/",
        "/assignment/",
        "/assignment/rules/new/",
        "/assignment/territories/",
        "/assignment/territories/new/",
        "/assignment/caps/",
        "/assignment/qualification/",
        "/imports/",
        "/f/forms/",
        f"/f/forms/{form.pk}/",
    ]

    def scenario(visit):
        log_in(visit, org.admin)
        for path in pages:
            visit.goto(path)
            expect(visit.page.locator("main")).to_be_visible()
            visit.shot(path.strip("/").replace("/", "-").replace("?", "-")[:60] or "home")

    run_visit(browser, live_server, PHONE, "tour", scenario)


@pytest.mark.parametrize("who", ["rep", "admin"])
def test_every_menu_link_opens_for_whoever_sees_it(browser, live_server, org, who):  # noqa: F811
    """The menu offers only what its user may open: each of its links answers without an error (403s and
    404s included), on a desktop screen with the dropdowns in reach."""
    user = org.admin if who == "admin" else org.user("rep", org.sh, scope=Scope.OWN)

    def scenario(visit):
        page = visit.page
        log_in(visit, user)
        links = page.locator("nav.navbar a[href^='/']").evaluate_all(
            "(links) => links.map((a) => a.getAttribute('href'))"
        )
        links = sorted({href for href in links if href not in ("/logout/",) and not href.startswith("/i18n/")})
        assert len(links) >= 5, links
        for href in links:
            visit.goto(href)
            if not href.startswith(("/api/", "/admin/")):  # the API's and Django admin's own pages
                expect(page.locator("main")).to_be_visible()

    run_visit(browser, live_server, DESKTOP, f"menu-{who}", scenario)
