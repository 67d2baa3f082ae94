"""A rep in the field, in a real headless Chromium: log in, create an account, add a contact and a
follow-up, find the account again by pinyin, and create an opportunity through the autocomplete widget.

Runs against pytest-django's `live_server` (a real threaded HTTP server on the in-memory SQLite test
database, shared with the server thread). Skipped when /usr/bin/chromium is missing or Playwright
cannot start it, so `make test` passes on a machine without a browser (`apt-get install chromium`).
Screenshots go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest

from core.choices import Scope

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "pass-word-123"  # conftest.Org's password for every fixture user
ACCOUNT_NAME = "深圳市华为技术有限公司"
TIMEOUT_MS = 10_000

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [
    pytest.mark.browser,
    # The live server answers from another thread, so the data must be committed (transaction=True).
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _defaults(transactional_db):
    """Stages and roles come from data migrations; an earlier transactional test's flush removed them."""
    from conftest import seed_defaults

    seed_defaults()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an asyncio loop on this thread; Django then refuses ORM calls made here
    # (fixtures, the flush after each test) unless told that this is deliberate.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = None
    try:
        try:
            playwright = sync_api.sync_playwright().start()
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as error:  # any failure to start the browser means "no browser here"
            pytest.skip(f"Playwright cannot start {CHROMIUM}: {error}")
        ARTIFACTS.mkdir(exist_ok=True)
        yield chromium
        chromium.close()
    finally:
        if playwright is not None:
            playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Visit:
    """One browser tab with the checks every page gets: no JavaScript error, no failed request, and on a
    phone no page wider than the screen."""

    def __init__(self, browser, live_server, viewport, label):
        self.context = browser.new_context(
            viewport=viewport,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            is_mobile=viewport["width"] < 576,
            has_touch=viewport["width"] < 576,
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.base = live_server.url
        self.label = label
        self.phone = viewport["width"] < 576
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"JS error: {error}"))
        self.page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"{r.status} {r.request.method} {r.url}"),
        )
        self.shots = 0

    def goto(self, path):
        self.page.goto(self.base + path)

    def path(self):
        return self.page.url.removeprefix(self.base)

    def shot(self, name):
        self.shots += 1
        self.page.screenshot(path=ARTIFACTS / f"browser-{self.label}-{self.shots:02d}-{name}.png", full_page=True)
        if self.phone:
            # clientWidth, not innerWidth: a mobile browser zooms out to show an over-wide page whole.
            overflow = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 0:
                self.problems.append(f"{self.path()}: page is {overflow}px wider than the phone screen")

    def submit(self, form):
        with self.page.expect_navigation():
            form.locator("button[type=submit]").last.click()

    def navbar_search(self, query):
        box = self.page.locator("nav form[role=search] input[name=q]")
        toggler = self.page.locator(".navbar-toggler")
        if toggler.is_visible():  # phones: the search box sits in the collapsed menu
            menu = self.page.locator("#mainnav")
            # Wait out Bootstrap's collapse animation rather than clicking into it (a click mid-way closes it).
            expect(menu).not_to_have_class(re.compile(r"\bcollapsing\b"))
            if "show" not in (menu.get_attribute("class") or "").split():
                toggler.click()
            expect(menu).to_have_class(re.compile(r"\bshow\b"))
        expect(box).to_be_visible()
        box.fill(query)
        with self.page.expect_navigation():
            box.press("Enter")

    def close(self):
        self.context.close()


def run_visit(browser, live_server, viewport, label, scenario):
    """`scenario(visit)` in a fresh tab, with a screenshot if it fails; no tab may meet a problem."""
    visit = Visit(browser, live_server, viewport, label)
    try:
        result = scenario(visit)
    except Exception:
        visit.page.screenshot(path=ARTIFACTS / f"browser-{label}-FAILED.png", full_page=True)
        raise
    finally:
        visit.close()
    assert visit.problems == [], visit.problems
    return result


def run_field_rep_scenario(visit, rep, *, autocomplete):
    page = visit.page

    # Log in through the form; a login page with no session redirects to home afterwards.
    visit.goto("/accounts/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.fill("#id_username", rep.username)
    page.fill("#id_password", "wrong-password")
    visit.submit(page.locator("form"))
    expect(page.locator(".alert-danger")).to_be_visible()
    page.fill("#id_password", PASSWORD)
    visit.shot("login")
    visit.submit(page.locator("form"))
    assert visit.path() == "/accounts/"
    expect(page.locator("nav.navbar")).to_be_visible()

    # A new account: first a credit code that cannot be right, then a clean form.
    page.locator("a[href='/accounts/new/']").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/new/$"))
    form = page.locator("main form")
    page.fill("#id_name", ACCOUNT_NAME)
    page.select_option("#id_grade", "A")
    page.fill("#id_credit_code", "123")
    visit.submit(form)
    assert visit.path() == "/accounts/new/", "an invalid form must not be saved"
    error = page.locator("[data-field-error=credit_code]")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    # The message sits next to its field (same form group), not only in a banner at the top.
    expect(page.locator("#id_credit_code").locator("xpath=..").locator("[data-field-error=credit_code]")).to_have_count(
        1
    )
    expect(page.locator("#id_name")).to_have_value(ACCOUNT_NAME)  # what was typed survives the error
    expect(page.locator("#id_grade")).to_have_value("A")
    visit.shot("account-form-error")
    page.fill("#id_credit_code", "")
    visit.submit(form)
    match = re.fullmatch(r"/accounts/(\d+)/", visit.path())
    assert match, visit.path()
    account_id = int(match.group(1))
    account_path = f"/accounts/{account_id}/"
    expect(page.get_by_test_id("record-title")).to_have_text(ACCOUNT_NAME)
    expect(page.locator(".alert-success")).to_be_visible()
    visit.shot("account-detail")

    # A contact from the account page: the account is already filled in.
    page.locator(f"a[href='/contacts/new/?account={account_id}']").click()
    expect(page).to_have_url(re.compile(r"/contacts/new/\?account="))
    account_box = page.locator(".autocomplete").filter(has=page.locator("input[type=hidden][name=account]"))
    expect(account_box.locator("input[type=hidden][name=account]")).to_have_value(str(account_id))
    expect(account_box.locator("input[type=search]")).to_have_value(ACCOUNT_NAME)
    page.fill("#id_name", "张三")
    page.fill("#id_mobile", "13800138000")
    visit.shot("contact-form")
    visit.submit(page.locator("main form"))
    assert re.fullmatch(r"/contacts/\d+/", visit.path()), visit.path()
    expect(page.get_by_test_id("record-title")).to_have_text("张三")
    expect(page.locator("a[href^='tel:']")).to_have_attribute("href", "tel:+8613800138000")

    # Back to the account through the contact's account link, then a follow-up from the inline form.
    page.locator(f"main a[href='{account_path}']").first.click()
    expect(page).to_have_url(re.compile(re.escape(account_path) + "$"))
    expect(page.get_by_test_id("contacts")).to_contain_text("张三")
    followup_form = page.get_by_test_id("followup-form")
    note = f"拜访了采购部，约了下周演示（{visit.label}）"
    followup_form.locator("textarea[name=content]").fill(note)
    visit.submit(followup_form)
    assert visit.path() == account_path, "the follow-up form must come back to the account"
    expect(page.get_by_test_id("followups")).to_contain_text(note)
    visit.shot("account-with-followup")

    # Find the account again: initials from the navbar, pinyin in the search page's live (HTMX) box, open
    # the hit, and Chinese from the navbar again.
    visit.navbar_search("hwjs")
    assert visit.path() == "/search/?q=hwjs"
    expect(page.get_by_test_id("hits-account").locator(f"a[href='{account_path}']")).to_have_text(ACCOUNT_NAME)
    visit.shot("search-hwjs")
    page.locator("main input[type=search][name=q]").fill("huawei")
    page.wait_for_function("new URLSearchParams(location.search).get('q') === 'huawei'")  # hx-push-url
    hit = page.get_by_test_id("hits-account").locator(f"a[href='{account_path}']")
    expect(hit).to_have_text(ACCOUNT_NAME)
    visit.shot("search-huawei")
    hit.click()
    expect(page).to_have_url(re.compile(re.escape(account_path) + "$"))
    visit.navbar_search("华为")
    assert visit.path() == "/search/?q=%E5%8D%8E%E4%B8%BA", visit.path()
    expect(page.get_by_test_id("hits-account").locator(f"a[href='{account_path}']")).to_have_text(ACCOUNT_NAME)

    if autocomplete:
        # An opportunity: pick the account in the autocomplete dropdown by typing part of its name.
        visit.goto("/opportunities/new/")
        box = page.locator(".autocomplete").filter(has=page.locator("input[type=hidden][name=account]"))
        search = box.locator("input[type=search]")
        search.click()
        search.press_sequentially("华为", delay=30)
        option = box.locator(f".autocomplete-options [data-autocomplete-value='{account_id}']")
        expect(option).to_be_visible()
        visit.shot("autocomplete-open")
        option.click()
        expect(box.locator("input[type=hidden][name=account]")).to_have_value(str(account_id))
        expect(search).to_have_value(ACCOUNT_NAME)
        expect(box.locator(".autocomplete-options > *")).to_have_count(0)
        page.fill("#id_name", "核心交换机扩容项目")
        page.fill("#id_amount", "1200000")
        page.fill("#id_expected_close_date", (datetime.date.today() + datetime.timedelta(days=20)).isoformat())
        stage = page.locator("#id_stage option:not([value=''])").first.get_attribute("value")
        page.select_option("#id_stage", stage)
        visit.submit(page.locator("main form"))
        assert re.fullmatch(r"/opportunities/\d+/", visit.path()), visit.path()
        expect(page.get_by_test_id("record-title")).to_have_text("核心交换机扩容项目")
        expect(page.locator(f"main a[href='{account_path}']").first).to_have_text(ACCOUNT_NAME)
        visit.shot("opportunity-detail")

    return account_id


@pytest.mark.parametrize(
    ("viewport", "label", "autocomplete"),
    [(PHONE, "phone", True), (DESKTOP, "desktop", False)],
    ids=["phone-390x844", "desktop-1366x900"],
)
def test_field_rep_works_an_account_in_the_browser(browser, live_server, org, viewport, label, autocomplete):
    from accounts.models import Account
    from contacts.models import Contact
    from followups.models import FollowUp
    from opportunities.models import Opportunity

    rep = org.user("rep", org.sh, scope=Scope.OWN)

    def scenario(visit):
        return run_field_rep_scenario(visit, rep, autocomplete=autocomplete)

    account_id = run_visit(browser, live_server, viewport, label, scenario)

    account = Account.objects.get(pk=account_id)
    assert (account.name, account.grade, account.owner_id, account.credit_code) == (ACCOUNT_NAME, "A", rep.pk, "")
    contact = Contact.objects.get(account=account)
    assert (contact.name, contact.mobile, contact.owner_id) == ("张三", "+8613800138000", rep.pk)
    assert FollowUp.objects.filter(account=account, owner=rep).count() == 1
    assert Opportunity.objects.filter(account=account, owner=rep).count() == (1 if autocomplete else 0)
