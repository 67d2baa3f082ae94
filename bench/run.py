"""End-to-end benchmark: a million leads in a separate SQLite database, the app under gunicorn, and
the latency of the requests users and integrators make most, measured over HTTP.

    .venv/bin/python bench/run.py [--leads N] [--rebuild] [--requests K] [--write]
    .venv/bin/python bench/run.py --pools [--pools-backlog] [--pg-url URL] [--write]   # public pools

The bench database (var/bench/bench.sqlite3) is built once by `manage.py demo` and reused by later
runs; var/tide.sqlite3 is never touched. `--write` adds the results to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
DB_PATH = BENCH_DIR / "bench.sqlite3"
META_PATH = BENCH_DIR / "build.json"
REPORT_PATH = ROOT / "docs" / "benchmarks.md"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
GUNICORN = str(VENV_BIN / "gunicorn")
WORKERS = 2

# Targets in milliseconds (median).
TARGET_LIST = 20
TARGET_CREATE = 15
TARGET_SEARCH = 100
TARGET_PAGE = 150
TARGET_DEDUPE = 20

PROBE = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db.models import Count, Exists, OuterRef
from accounts.models import Account
from contacts.models import Contact
from followups.models import FollowUp
from leads.models import Lead
from opportunities.models import Opportunity
from org.models import User
from search.models import SearchEntry

admin = User.objects.get(username="admin")
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = str(admin.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = admin.get_session_auth_hash()
store.create()
busiest = (
    Lead.objects.filter(status="new", owner__roles__code="sales_rep")
    .values("owner_id").annotate(n=Count("id")).order_by("-n").first()
)
rich = (
    Account.objects.filter(
        Exists(Account.objects.filter(parent=OuterRef("pk"))),
        Exists(Contact.objects.filter(account=OuterRef("pk"))),
        Exists(Opportunity.objects.filter(account=OuterRef("pk"))),
    ).order_by("id").values_list("id", flat=True)[:20]
)
phone = Contact.objects.exclude(mobile="").order_by("-id").values_list("mobile", flat=True).first() or ""
fragment = (
    Account.objects.exclude(short_name="").filter(parent__isnull=True).order_by("-id")
    .values_list("short_name", flat=True).first() or "科技"
)
# A rep who joined last week: five old leads of his own among a million, the list a phone opens first.
from org.models import Role
rep = User.objects.get(pk=busiest["owner_id"]) if busiest else admin
new_rep, created = User.objects.get_or_create(
    username="bench-new-rep", defaults={"name": "新人", "department_id": rep.department_id}
)
if created:
    new_rep.roles.add(Role.objects.get(code="sales_rep"))
    Lead.objects.filter(pk__in=list(Lead.objects.order_by("id").values_list("pk", flat=True)[:5])).update(owner=new_rep)
# A rep like the new one with three old leads of others shared with him (a project team).
from core.models import RecordShare
shared_rep, created = User.objects.get_or_create(
    username="bench-shared-rep", defaults={"name": "项目组新人", "department_id": rep.department_id}
)
if created:
    shared_rep.roles.add(Role.objects.get(code="sales_rep"))
    first = list(Lead.objects.order_by("id").values_list("pk", flat=True)[5:13])
    Lead.objects.filter(pk__in=first[:5]).update(owner=shared_rep)
    RecordShare.objects.bulk_create(
        [RecordShare(object_type="lead", object_id=pk, user=shared_rep, access="view") for pk in first[5:]]
    )
print(json.dumps({
    "session": store.session_key,
    "rep": rep.username,
    "rep_leads": Lead.objects.filter(owner=rep).count(),
    "owner_id": busiest["owner_id"] if busiest else admin.pk,
    "owner_new_leads": busiest["n"] if busiest else 0,
    "accounts_360": list(rich),
    "phone_last4": phone[-4:],
    "fragment": fragment[:4],
    "counts": {
        "users": User.objects.count(),
        "accounts": Account.objects.count(),
        "contacts": Contact.objects.count(),
        "leads": Lead.objects.count(),
        "opportunities": Opportunity.objects.count(),
        "followups": FollowUp.objects.count(),
        "search entries": SearchEntry.objects.count(),
    },
}))
"""

COUNT_LEADS = """
from leads.models import Lead
print(Lead.all_objects.count())
"""


def log(message: str) -> None:
    print(message, flush=True)


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{DB_PATH}",  # an absolute path: four slashes in total
        TIDE_DEBUG="0",
        TIDE_ALLOWED_HOSTS="127.0.0.1",
        TIDE_LOG_LEVEL="ERROR",
    )
    return env


def manage(*args: str, capture: bool = True, stdin: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=bench_env(),
        input=stdin,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr or ''}")
    return result.stdout if capture else ""


def shell(code: str) -> str:
    return manage("shell", "--no-imports", "-v0", stdin=code).strip().splitlines()[-1]


def remove_database() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB_PATH}{suffix}").unlink(missing_ok=True)
    META_PATH.unlink(missing_ok=True)


def ensure_data(leads: int, rebuild: bool) -> dict:
    """Migrate, and build the demo data unless the bench database already holds this scale."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    meta = json.loads(META_PATH.read_text()) if META_PATH.exists() else None
    reusable = not rebuild and DB_PATH.exists() and meta and meta.get("leads") == leads
    if not reusable:
        remove_database()
    log("Migrating the bench database")
    manage("migrate", "--noinput", "-v0")
    if reusable and int(shell(COUNT_LEADS)) >= leads:
        log(f"Reusing the bench database built {meta['built_at']} (build took {meta['build_seconds']:.0f} s)")
        return meta
    if reusable:  # an interrupted build: start again
        remove_database()
        manage("migrate", "--noinput", "-v0")
    log(f"Building demo data: {leads:,} leads (this takes a while; later runs reuse it)")
    started = time.perf_counter()
    manage("demo", "--scale", str(leads), capture=False)
    meta = {
        "leads": leads,
        "build_seconds": round(time.perf_counter() - started, 1),
        "built_at": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    META_PATH.write_text(json.dumps(meta, indent=2))
    return meta


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    port: int, env: dict | None = None, workers: int = WORKERS, timeout: int = 120, log_name: str = "gunicorn.log"
) -> subprocess.Popen:
    """gunicorn on `port` (the bench database unless `env` says otherwise), returned once it accepts connections."""
    log_path = BENCH_DIR / log_name
    server = subprocess.Popen(
        [GUNICORN, "tide.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", str(timeout)],
        cwd=ROOT,
        env=env or bench_env(),
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited early; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not start within 60 s")


class Client:
    """One HTTP/1.1 connection; gunicorn's sync workers close it after each response and we reconnect."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = headers

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, ConnectionError):
            self.conn.close()  # a stale kept-alive socket: retry once on a fresh one
            started = time.perf_counter()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.conn.close()
        return response.status, payload, elapsed


class Scenario:
    def __init__(self, name: str, target: float, make_request, expect: int = 200, client: str = "api"):
        self.name = name
        self.client = client  # api (admin token), page (admin session), rep, new_rep, shared_rep (own tokens)
        self.target = target
        self.make_request = make_request  # i -> (method, path, body)
        self.expect = expect
        self.samples: list[float] = []
        self.error = ""
        self.note = ""


def run_scenario(client: Client, scenario: Scenario, requests: int, warmup: int) -> Scenario:
    for i in range(warmup + requests):
        method, path, body = scenario.make_request(i)
        status, payload, ms = client.call(method, path, body)
        if status != scenario.expect:
            if status == 404:
                scenario.error = f"404 at {path.split('?')[0]}: endpoint missing?"
            else:
                body = payload[:200].decode(errors="replace").replace("|", "/").replace("\n", " ")
                scenario.error = f"HTTP {status} for {method} {path[:80]}: {body}"
            break
        if i >= warmup:
            scenario.samples.append(ms)
        if i == 0:
            scenario.note = describe(payload)
    return scenario


def describe(payload: bytes) -> str:
    """What the first response held, so a fast but empty answer does not pass unnoticed."""
    try:
        body = json.loads(payload)
    except ValueError:
        return f"{len(payload) / 1024:.0f} KiB HTML"
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return f"{len(body['results'])} results"
    if isinstance(body, dict) and isinstance(body.get("candidates"), list):
        return f"{len(body['candidates'])} candidates"
    return "created" if isinstance(body, dict) and body.get("id") else ""


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def first_page_cursor(client: Client, path: str) -> str | None:
    status, payload, _ms = client.call("GET", path)
    if status != 200:
        return None
    try:
        return json.loads(payload).get("next_cursor")
    except (ValueError, AttributeError):
        return None


def build_scenarios(client: Client, probe: dict, requests: int) -> list[Scenario]:
    owner = probe["owner_id"]
    filtered = f"/api/v1/leads/?owner_id={owner}&status=new&limit=50"
    unfiltered = "/api/v1/leads/?limit=50"
    scenarios = [
        Scenario("leads: owner + status, newest 50", TARGET_LIST, lambda i: ("GET", filtered, None)),
        Scenario("leads: all, newest 50", TARGET_LIST, lambda i: ("GET", unfiltered, None)),
        Scenario(
            f"leads: a rep's own list ({probe['rep_leads']:,} leads), newest 50",
            TARGET_LIST,
            lambda i: ("GET", unfiltered, None),
            client="rep",
        ),
        Scenario(
            "leads: a new rep's own list (5 old leads)",
            TARGET_LIST,
            lambda i: ("GET", unfiltered, None),
            client="new_rep",
        ),
        Scenario(
            "leads: a new rep's list, 5 own + 3 shared old leads",
            TARGET_LIST,
            lambda i: ("GET", unfiltered, None),
            client="shared_rep",
        ),
        Scenario(
            "leads: the same, status new",
            TARGET_LIST,
            lambda i: ("GET", "/api/v1/leads/?status=new&limit=50", None),
            client="shared_rep",
        ),
    ]
    for label, path in (("leads: all, page 2", unfiltered), ("leads: owner + status, page 2", filtered)):
        cursor = first_page_cursor(client, path)
        if cursor:
            page2 = f"{path}&cursor={quote(cursor)}"
            scenarios.append(Scenario(label, TARGET_LIST, lambda i, p=page2: ("GET", p, None)))
        else:
            missing = Scenario(label, TARGET_LIST, None)
            missing.error = "no next_cursor in the first page (endpoint missing or too few rows)"
            scenarios.append(missing)
    brands = ["华信", "中科", "恒通", "蓝海", "星河", "远景", "鼎盛", "启明"]
    scenarios.append(
        Scenario(
            "lead: create (POST)",
            TARGET_CREATE,
            lambda i: (
                "POST",
                "/api/v1/leads/",
                {
                    "company": f"苏州{brands[i % len(brands)]}基准{i}科技有限公司",
                    "contact_name": "张伟",
                    "phone": "13800138000",
                    "source": "api",
                },
            ),
            expect=201,
        )
    )
    queries = [
        ("Chinese substring", "华为"),
        ("full pinyin", "huawei"),
        ("initials", "hwjs"),
        ("phone last 4", probe["phone_last4"]),
        ("name fragment", probe["fragment"]),
        ("very common word", "科技"),
    ]
    for label, q in queries:
        path = "/api/v1/search/?" + urlencode({"q": q})
        scenarios.append(Scenario(f"search: {label} ({q})", TARGET_SEARCH, lambda i, p=path: ("GET", p, None)))
    accounts = probe["accounts_360"]
    if accounts:
        scenarios.append(
            Scenario(
                "account 360 page (HTML)",
                TARGET_PAGE,
                lambda i: ("GET", f"/accounts/{accounts[i % len(accounts)]}/", None),
                client="page",
            )
        )
    scenarios.append(dedupe_scenario())
    return scenarios


# Duplicate check: recent leads' company, phone and e-mail, and short names of famous accounts.
DEDUPE_PROBE = """
import json
from leads.models import Lead
rows = Lead.objects.exclude(phone="").order_by("-id").values_list("company", "phone", "email")[:12]
print(json.dumps([list(r) for r in rows]))
"""
DEDUPE_SHORT_NAMES = ["广汽集团", "紫光国微", "上汽集团", "工行", "华为", "中国石化", "腾讯", "宁德时代"]


def dedupe_scenario() -> Scenario:
    """POST /api/v1/duplicates/check for a new lead against every lead, account and contact (all rules)."""
    manage("dedupe_backfill", "--missing")  # the demo bulk-creates rows without their duplicate-check keys
    payloads = [{"object": "lead", "name": c, "phone": p, "email": e} for c, p, e in json.loads(shell(DEDUPE_PROBE))]
    payloads += [{"object": "lead", "name": name} for name in DEDUPE_SHORT_NAMES]
    return Scenario(
        "dedupe: check a new lead (name, phone, e-mail)",
        TARGET_DEDUPE,
        lambda i: ("POST", "/api/v1/duplicates/check", payloads[i % len(payloads)]),
    )


def cpu_calibration() -> float:
    """Seconds for a fixed Python loop inside a function: the CPU part of the machine's speed on the day.
    Figures of two runs compare only when this agrees; it says nothing about the disk or the page cache."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def machine_info() -> dict[str, str]:
    info = {"CPUs": str(os.cpu_count())}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["CPU"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    info["Python"] = platform.python_version()
    info["SQLite"] = sqlite3.sqlite_version
    info["CPU speed"] = f"a 10,000,000-step Python loop takes {cpu_calibration():.2f} s"
    info["server"] = f"gunicorn, {WORKERS} sync workers, TIDE_DEBUG=0"
    return info


def render_table(results: list[Scenario]) -> list[str]:
    lines = [
        "| scenario | requests | median ms | p95 ms | target ms | | response |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for s in results:
        if s.error or not s.samples:
            lines.append(f"| {s.name} | – | – | – | ≤ {s.target:g} | ⚠ {s.error or 'no samples'} | |")
            continue
        median, p95 = statistics.median(s.samples), percentile(s.samples, 0.95)
        verdict = "ok" if median <= s.target else "**slower than target**"
        lines.append(
            f"| {s.name} | {len(s.samples)} | {median:.1f} | {p95:.1f} | ≤ {s.target:g} | {verdict} | {s.note} |"
        )
    return lines


def write_report(results, probe, meta, requests) -> None:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    machine = machine_info()
    section = [f"## {now} — {meta['leads']:,} leads", ""]
    section += [f"- {k}: {v}" for k, v in machine.items()]
    counts = ", ".join(f"{v:,} {k}" for k, v in probe["counts"].items())
    size = sum(Path(f"{DB_PATH}{s}").stat().st_size for s in ("", "-wal") if Path(f"{DB_PATH}{s}").exists())
    section += [
        f"- data: {counts}; database file {size / 1024**3:.2f} GiB",
        f"- demo build (`manage.py demo --scale {meta['leads']}`): {meta['build_seconds']:.0f} s",
        f"- {requests} measured requests per scenario after warm-up, sequential, one client",
        "",
    ]
    section += render_table(results)
    section.append("")
    header = [
        "# Benchmarks",
        "",
        "Produced by `make bench BENCH_ARGS=--write` (bench/run.py): demo data in a separate SQLite database",
        "(var/bench/), the app under gunicorn, latency measured over HTTP on localhost. Newest first.",
        "",
    ]
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    old = REPORT_PATH.read_text() if REPORT_PATH.exists() else "\n".join(header)
    head, sep, rest = old.partition("\n## ")
    text = head.rstrip("\n") + "\n\n" + "\n".join(section) + ("\n## " + rest if sep else "")
    REPORT_PATH.write_text(text)
    log(f"Results added to {REPORT_PATH.relative_to(ROOT)}")


# --- public pools: the recycling sweep on SQLite, concurrent claims on PostgreSQL ----------------------

POOL_SCRATCH = BENCH_DIR / "pools-scratch.sqlite3"
# Which owned leads are due: none; every 100th (a night's worth, scattered over the table); every 10th (a
# backlog scattered over every page of the table, the worst case for the writes); the oldest 10 % (a backlog
# as it usually looks: leads owned since long ago are mostly old leads, close together in the table).
POOL_DUE_SETS = (("none", 0, False), ("1 %", 100, False), ("10 %, scattered", 10, False), ("10 %, oldest", 10, True))

POOL_SETUP = """
import json
from django.db import connection
from leads.models import Lead
from pools.models import Pool, RecyclingRule
pool, _ = Pool.objects.get_or_create(name="bench 线索公海", defaults={"object_type": "lead"})
Lead.all_objects.filter(pool__isnull=True).update(pool=pool)
RecyclingRule.objects.filter(pool=pool).delete()
RecyclingRule.objects.create(pool=pool, name="30 天未跟进", kind="no_followup", days=30)
with connection.cursor() as c:
    c.execute("DROP TABLE IF EXISTS bench_owner")
    c.execute("CREATE TABLE bench_owner AS SELECT id, owner_id FROM leads_lead WHERE owner_id IS NOT NULL")
    c.execute("CREATE UNIQUE INDEX bench_owner_id ON bench_owner (id)")
print(json.dumps({"leads": Lead.all_objects.count(), "owned": Lead.all_objects.filter(owner__isnull=False).count()}))
"""

# Give every lead its owner back, make all of them recently owned and every n-th one (or the oldest n-th part)
# 40 days old.
POOL_PREPARE = """
import datetime
from django.db import connection
from django.utils import timezone
every, oldest = {every}, {oldest}
now = timezone.now()
fmt = lambda d: d.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
with connection.cursor() as c:
    c.execute("UPDATE leads_lead SET owner_id = (SELECT b.owner_id FROM bench_owner b WHERE b.id = leads_lead.id) "
              "WHERE owner_id IS NULL AND id IN (SELECT id FROM bench_owner)")
    c.execute("UPDATE leads_lead SET owner_since = %s, last_followup_at = NULL WHERE owner_id IS NOT NULL",
              [fmt(now - datetime.timedelta(days=5))])
    old = [fmt(now - datetime.timedelta(days=40))]
    if every and oldest:
        c.execute("SELECT COUNT(*) FROM leads_lead WHERE owner_id IS NOT NULL")
        c.execute("UPDATE leads_lead SET owner_since = %s WHERE id IN (SELECT id FROM leads_lead "
                  "WHERE owner_id IS NOT NULL ORDER BY id LIMIT %s)", old + [c.fetchone()[0] // every])
    elif every:
        c.execute("UPDATE leads_lead SET owner_since = %s WHERE owner_id IS NOT NULL AND id %% %s = 0", old + [every])
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print("ok")
"""

# The sweep's own time (reading the due ids, then its chunks' statements and commits), then the checkpoint
# that copies what it wrote from the WAL into the database file (readers and writers go on meanwhile). The
# connection's automatic checkpoint is off so the two can be told apart; "seconds" is both. Each chunk is a
# transaction of its own (BEGIN IMMEDIATE on SQLite): the longest one is the longest other writers wait.
POOL_SWEEP = """
import json, time
from django.db import connection
from pools import actions
from pools.models import Pool
pool = Pool.objects.get(name="bench 线索公海")
with connection.cursor() as c:
    c.execute("PRAGMA wal_autocheckpoint=0")
import os
actions.SWEEP_CHUNK = int(os.environ.get("BENCH_SWEEP_CHUNK") or actions.SWEEP_CHUNK)  # to try other sizes
held, real = [], actions._sweep_transaction
def timed(work):
    began = time.perf_counter()
    try:
        return real(work)
    finally:
        held.append(time.perf_counter() - began)
actions._sweep_transaction = timed
started = time.perf_counter()
counts = actions.recycle_due_records(pool_ids=[pool.pk])
swept = time.perf_counter()
with connection.cursor() as c:
    c.execute("PRAGMA wal_checkpoint(PASSIVE)")
done = time.perf_counter()
print(json.dumps({"recycled": sum(counts.values()), "locked": swept - started, "checkpoint": done - swept,
                  "seconds": done - started, "transactions": len(held), "longest": max(held, default=0)}))
"""

POOL_CLAIMS = """
import collections, json, random, threading, time
from django.db import connection
from django.db.models import Count
from core.choices import Scope
from core.errors import DomainError
from leads.models import Lead
from org.models import Department, Role, RolePermission, User
from pools import actions
from pools.models import ClaimLog, Pool

CLAIMERS, HOT, TRIES, DAILY, OWN = {claimers}, 100, 20, 3, 4
dept = Department.objects.create(name="抢单测试部")
dept.path = dept.compute_path()
dept.save(update_fields=["path"])
role = Role.objects.create(name="抢单测试", code="bench-claim")
RolePermission.objects.create(role=role, object_type="lead", actions=["view", "edit"], scope=Scope.OWN)
users = []
for i in range(CLAIMERS):
    user = User.objects.create_user(username=f"claimer{{i}}", password=None, department=dept)
    user.roles.add(role)
    users.append(user.pk)
    if i % 2 == 0:  # half of them already own two leads: the ownership limit stops them before the daily one
        Lead.objects.bulk_create([Lead(company=f"自有线索{{i}}-{{n}}", owner=user) for n in range(2)])
pool = Pool.objects.create(name="抢单公海", object_type="lead", daily_claim_limit=DAILY, ownership_limit=OWN)
pool.member_departments.add(dept)
hot = [l.pk for l in Lead.objects.bulk_create([Lead(company=f"抢单测试{{i}}有限公司", pool=pool) for i in range(HOT)])]
outcomes = collections.Counter()
lock = threading.Lock()
barrier = threading.Barrier(CLAIMERS)

def claimer(user_id):
    user = User.objects.get(pk=user_id)
    mine = random.sample(hot, TRIES)
    barrier.wait()
    for lead_id in mine:
        try:
            actions.claim_lead(lead_id=lead_id, user=user)
            code = "ok"
        except DomainError as error:
            code = error.code
        with lock:
            outcomes[code] += 1
    connection.close()

threads = [threading.Thread(target=claimer, args=(u,)) for u in users]
started = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
seconds = time.perf_counter() - started
claims = ClaimLog.objects.filter(pool=pool, action="claim")
double = claims.values("object_id").annotate(n=Count("id")).filter(n__gt=1).count()
owner_mismatch = sum(
    1 for c in claims.values("object_id", "user_id") if Lead.objects.get(pk=c["object_id"]).owner_id != c["user_id"]
)
over_daily = claims.values("user_id").annotate(n=Count("id")).filter(n__gt=DAILY).count()
owned = Lead.objects.filter(owner_id__in=users).values("owner_id").annotate(n=Count("id"))
over_owned = owned.filter(n__gt=OWN).count()
print(json.dumps({{
    "claimers": CLAIMERS, "attempts": sum(outcomes.values()), "outcomes": dict(outcomes), "seconds": seconds,
    "claimed": claims.count(), "double_claims": double + owner_mismatch, "over_daily_limit": over_daily,
    "over_ownership_limit": over_owned,
}}))
"""


def pool_env(database_url: str) -> dict[str, str]:
    env = bench_env()
    env["DATABASE_URL"] = database_url
    return env


def pool_shell(code: str, database_url: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "--no-imports", "-v0"],
        cwd=ROOT,
        env=pool_env(database_url),
        input=code,
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return result.stdout.strip().splitlines()[-1]


def pool_manage(database_url: str, *args: str) -> None:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=pool_env(database_url), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])


def remove_pool_scratch() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{POOL_SCRATCH}{suffix}").unlink(missing_ok=True)


def warm_page_cache(path: Path) -> None:
    """Read the database file once, so the sweep finds it in memory as on a server whose RAM holds it.

    This machine drops file pages nobody touched for a minute (DAMON `pageout`: regions idle for 12
    aggregation intervals of 5 s, up to 128 MB/s; see /sys/kernel/mm/damon/admin), so without this the
    sweep's scattered page reads would go to the disk and its figure would measure the disk."""
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def bench_sweep(backlog: bool) -> list[dict]:
    """Copy the bench database, put every lead in one pool with a 30-day no-follow-up rule, time the sweep."""
    if not DB_PATH.exists():
        sys.exit(f"{DB_PATH} is missing: run `make bench` once to build it.")
    url = f"sqlite:///{POOL_SCRATCH}"
    remove_pool_scratch()
    rows = []
    try:
        log(f"Copying the bench database to {POOL_SCRATCH.name} and migrating the copy")
        # SQLite's backup API, not a file copy: it also takes what still sits in the source's WAL.
        source = sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True)
        target = sqlite3.connect(POOL_SCRATCH)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        pool_manage(url, "migrate", "--noinput", "-v0")
        counts = json.loads(pool_shell(POOL_SETUP, url))
        for share, every, oldest in POOL_DUE_SETS + ((("100 %", 1, False),) if backlog else ()):
            pool_shell(POOL_PREPARE.format(every=every, oldest=oldest), url)
            # The preparation rewrote every owned lead; let the kernel write that out first, so the sweep's
            # time (and its checkpoint's fsync) is not the flushing of the bench's own setup.
            os.sync()
            warm_page_cache(POOL_SCRATCH)
            result = json.loads(pool_shell(POOL_SWEEP, url))
            log(
                f"  sweep, {share} of the owned leads due: {result['recycled']:,} in {result['seconds']:.2f} s "
                f"({result['locked']:.2f} s sweep in {result['transactions']} transactions, the longest "
                f"{result['longest']:.2f} s; {result['checkpoint']:.2f} s checkpoint)"
            )
            rows.append(counts | result | {"share": share})
    finally:
        remove_pool_scratch()
    return rows


def bench_claims(pg_url: str, claimers: int) -> dict | None:
    """50 reps claim from the same 100 leads at once on a scratch PostgreSQL database; count double claims."""
    try:
        import psycopg
    except ImportError:
        log("psycopg is missing: skipping the concurrent claims")
        return None
    name = f"tide_bench_claims_{os.getpid()}"
    base = pg_url.rsplit("/", 1)[0]
    try:
        admin = psycopg.connect(pg_url, autocommit=True)
    except psycopg.OperationalError as error:
        log(f"PostgreSQL unreachable ({error}); skipping the concurrent claims")
        return None
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{base}/{name}"
        log(f"Migrating the scratch PostgreSQL database {name}")
        pool_manage(url, "migrate", "--noinput", "-v0")
        log(f"  {claimers} reps claiming at once …")
        return json.loads(pool_shell(POOL_CLAIMS.format(claimers=claimers), url))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def render_pool_tables(sweeps: list[dict], claims: dict | None) -> list[str]:
    lines = []
    if sweeps:
        lines += [
            f"Recycling sweep, SQLite, {sweeps[0]['leads']:,} leads ({sweeps[0]['owned']:,} owned) in one pool, "
            "rule “no follow-up for 30 days”, each sweep in a fresh process:",
            "",
            "| owned leads due | recycled | sweep s | checkpoint s | seconds | target | | transactions "
            "| longest write lock s |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for row in sweeps:
            verdict = "ok" if row["seconds"] <= 2 else "**slower than 2 s**"
            lines.append(
                f"| {row['share']} | {row['recycled']:,} | {row['locked']:.2f} | {row['checkpoint']:.2f} | "
                f"{row['seconds']:.2f} | ≤ 2 | {verdict} | {row.get('transactions', '')} | "
                f"{row.get('longest', 0):.2f} |"
            )
        lines.append("")
    if claims:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(claims["outcomes"].items()))
        lines += [
            f"Concurrent claims, PostgreSQL: {claims['claimers']} reps, one thread and connection each, 20 claims "
            "each on the same 100 leads, at most 3 claims a day and 4 leads owned per rep (half of them own 2):",
            "",
            "| attempts | claimed | seconds | double claims | over daily limit | over ownership limit | outcomes |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {claims['attempts']} | {claims['claimed']} | {claims['seconds']:.2f} | {claims['double_claims']} | "
            f"{claims['over_daily_limit']} | {claims['over_ownership_limit']} | {outcomes} |",
            "",
        ]
    return lines


def run_pool_benchmarks(args) -> None:
    sweeps = bench_sweep(args.pools_backlog) if not args.skip_sweep else []
    claims = bench_claims(args.pg_url, args.claimers)
    lines = render_pool_tables(sweeps, claims)
    print()
    print("\n".join(lines))
    if args.write and lines:
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        machine = ", ".join(f"{k} {v}" for k, v in machine_info().items() if k != "server")
        section = [f"## {now} — public pools", "", f"- {machine}", ""] + lines
        old = REPORT_PATH.read_text()
        head, sep, rest = old.partition("\n## ")
        REPORT_PATH.write_text(head.rstrip("\n") + "\n\n" + "\n".join(section) + ("\n## " + rest if sep else ""))
        log(f"Results added to {REPORT_PATH.relative_to(ROOT)}")
    if claims and claims["double_claims"]:
        sys.exit("double claims found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000, help="demo scale (number of leads)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the bench database from scratch")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests per scenario first")
    parser.add_argument("--write", action="store_true", help="add the results to docs/benchmarks.md")
    parser.add_argument("--pools", action="store_true", help="only the public-pool benchmarks (sweep, claims)")
    parser.add_argument("--pools-backlog", action="store_true", help="with --pools: also sweep with every lead due")
    parser.add_argument("--skip-sweep", action="store_true", help="with --pools: only the concurrent claims")
    parser.add_argument("--claimers", type=int, default=50, help="with --pools: concurrent claimers")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="with --pools: a PostgreSQL server (any database) where a scratch database may be created",
    )
    args = parser.parse_args()
    if args.pools:
        run_pool_benchmarks(args)
        return

    meta = ensure_data(args.leads, args.rebuild)
    log("Probing the data (owner, accounts, queries) and creating a session and an API token")
    probe = json.loads(shell(PROBE))
    tokens = {
        name: manage("apitoken", username, "--name", "bench").strip().splitlines()[-1]
        for name, username in (
            ("api", "admin"),
            ("rep", probe["rep"]),
            ("new_rep", "bench-new-rep"),
            ("shared_rep", "bench-shared-rep"),
        )
    }
    port = free_port()
    log(f"Starting gunicorn on 127.0.0.1:{port}")
    server = start_server(port)
    results: list[Scenario] = []
    try:
        clients = {
            name: Client(port, {"Authorization": f"Bearer {token}", "Accept": "application/json"})
            for name, token in tokens.items()
        }
        clients["page"] = Client(port, {"Cookie": f"sessionid={probe['session']}"})
        api = clients["api"]
        for scenario in build_scenarios(api, probe, args.requests):
            if scenario.make_request is not None:
                client = clients[scenario.client]
                log(f"  {scenario.name} …")
                run_scenario(client, scenario, args.requests, args.warmup)
            results.append(scenario)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()

    print()
    counts = ", ".join(f"{v:,} {k}" for k, v in probe["counts"].items())
    print(f"Data: {counts}; demo build took {meta['build_seconds']:.0f} s")
    print(f"Lead owner for the filtered list: user {probe['owner_id']} ({probe['owner_new_leads']:,} new leads)")
    print("\n".join(render_table(results)))
    if args.write:
        write_report(results, probe, meta, args.requests)


if __name__ == "__main__":
    main()
