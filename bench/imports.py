"""Import throughput, end to end: a generated CSV of N leads → upload → mapping → the import job.

Runs against a scratch SQLite database under var/bench/ (created fresh each run) so it never touches
the app's data. By default everything goes through the Open API as an integrator would: the file is
uploaded to `POST /api/v1/imports/` on gunicorn, the mapping is confirmed, the import is started and
polled until its leads are searchable, while a `db_worker` process runs the job. `--in-process` runs the
job inside one process instead, where BENCH_TIMING=1 (time per step) and BENCH_PROFILE=file (cProfile)
can look inside it. Prints rows/s and, with --write, appends the figure to docs/benchmarks.md.

    .venv/bin/python bench/imports.py --rows 100000 [--write] [--in-process]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from run import cpu_calibration, free_port, start_server  # this file's folder is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
TARGET_ROWS_PER_S = 30_000


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    companies = [fake.company() for _ in range(20_000)]
    people = [fake.name() for _ in range(5_000)]
    provinces = ["广东", "北京", "上海", "浙江省", "江苏", "四川省", "湖北"]
    sources = ["展会", "官网", "转介绍", "广告", "Referral"]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["公司名称", "联系人", "手机", "邮箱", "省份", "线索来源", "备注"])
        for i in range(rows):
            writer.writerow(
                [
                    f"{rnd.choice(companies)}{i}",
                    rnd.choice(people),
                    f"1{rnd.choice('3589')}{rnd.randint(0, 9)}{i:08d}",
                    f"lead{i}@example.cn",
                    rnd.choice(provinces),
                    rnd.choice(sources),
                    "",
                ]
            )


# Assignment as a sales team sets it up: exhibition leads round-robin over five reps, Guangdong leads to
# the South China territory team, everything else into a public pool.
SETUP = """
from assignment.models import AssignmentRule, RuleMember, Territory, TerritoryMember, TerritoryRegion
from org.models import Department, User
from pools.models import Pool
user = User.objects.create_superuser("bench", "b@example.cn", "bench-pass-123")
dept = Department.objects.create(name="华南大区")
reps = [User.objects.create_user(f"rep{i}", f"rep{i}@example.cn", "bench-pass-123", department=dept)
        for i in range(8)]
rr = AssignmentRule.objects.create(name="展会轮询", order=1, strategy="round_robin",
    conditions={"all": [{"field": "source", "op": "in", "value": ["exhibition"]}]})
for i, rep in enumerate(reps[:5]):
    RuleMember.objects.create(rule=rr, user=rep, position=i)
south = Territory.objects.create(name="华南", department=dept)
TerritoryRegion.objects.create(territory=south, code="44")
for i, rep in enumerate(reps[5:]):
    TerritoryMember.objects.create(territory=south, user=rep, position=i)
AssignmentRule.objects.create(name="按区域", order=2, strategy="territory")
pool = Pool.objects.create(name="线索公海", object_type="lead")
AssignmentRule.objects.create(name="其余进公海", order=3, strategy="pool", pool=pool)
"""

# Where the leads went, read after the job: to reps (not the importing admin) and into the pool.
OUTCOME = """
from leads.models import Lead
from imports.models import ImportJob
job = ImportJob.objects.get()
owned = Lead.objects.filter(owner__isnull=False).exclude(owner=job.created_by).count()
pooled = Lead.objects.filter(pool__isnull=False, owner__isnull=True).count()
print("RESULT", job.status, job.created_count, job.rejected_count, job.skipped_count, owned, pooled, job.indexed)
"""

IN_PROCESS = """
import os, time
from django.core.files.uploadedfile import SimpleUploadedFile
from imports import actions, pipeline
from imports.choices import JobStatus
from imports.models import ImportJob
marks = {{}}
real_index = pipeline.index_job
def timed_index(job):
    marks["rows"] = time.perf_counter()
    if not os.environ.get("BENCH_ROWS_ONLY"):
        real_index(job)
pipeline.index_job = timed_index
started = time.perf_counter()
with open({source!r}, "rb") as f:
    job = actions.upload(user=user, uploaded_file=SimpleUploadedFile("leads.csv", f.read()))
ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
if os.environ.get("BENCH_TIMING"):
    import collections, functools
    spent = collections.Counter()
    def timed(name, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name if name != "insert_rows" else "insert " + a[0].__name__] += time.perf_counter() - t
        return wrapper
    import assignment.service as svc
    pipeline.insert_rows = timed("insert_rows", pipeline.insert_rows)
    svc._Planner.plan = timed("plan", svc._Planner.plan)
    pipeline.BatchWriter.write = timed("write", pipeline.BatchWriter.write)
    pipeline.BatchWriter.check_duplicates = timed("dupes", pipeline.BatchWriter.check_duplicates)
    pipeline._lookup = timed("lookup", pipeline._lookup)
    from django.db import connection
    connection.commit = timed("commit", connection.commit)
    svc.notify_assignees = timed("notify", svc.notify_assignees)
    import multiprocessing.connection
    multiprocessing.connection.Connection.recv = timed("wait for rows", multiprocessing.connection.Connection.recv)
    pipeline.BatchWriter.record = timed("record", pipeline.BatchWriter.record)
    pipeline.BatchWriter.insert = timed("insert", pipeline.BatchWriter.insert)
if os.environ.get("BENCH_PROFILE"):
    import cProfile
    profile = cProfile.Profile()
    profile.enable()
job = pipeline.run_job(job.pk)
if os.environ.get("BENCH_PROFILE"):
    profile.disable()
    profile.dump_stats(os.environ["BENCH_PROFILE"])
done = time.perf_counter()
if os.environ.get("BENCH_TIMING"):
    for k, v in spent.most_common():
        print(f"TIMING {{k}}: {{v:.2f}}s")
print("PHASES", round(marks["rows"] - started, 2), round(done - marks["rows"], 2))
"""


def shell(env: dict, code: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-v0", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def api(port: int, token: str, method: str, path: str, body: bytes | None = None, content_type: str = "") -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        conn.request(method, f"/api/v1{path}", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
    finally:
        conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:500]!r}")
    return json.loads(payload)


def run_over_http(env: dict, source: Path) -> tuple[float, float]:
    """Upload, map, start and poll through the Open API while a db_worker runs the job: (rows s, index s)."""
    token = (
        subprocess.run(
            [sys.executable, "manage.py", "apitoken", "bench", "--name", "import bench"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    server = start_server(port, env=env, workers=1, timeout=600, log_name="imports-gunicorn.log")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--no-reload", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=(BENCH_DIR / "imports-worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="leads.csv"\r\n'
                "Content-Type: text/csv\r\n\r\n"
            ).encode()
            + source.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        started = time.perf_counter()
        job = api(port, token, "POST", "/imports/", body, f"multipart/form-data; boundary={boundary}")
        api(
            port,
            token,
            "PUT",
            f"/imports/{job['id']}/mapping",
            json.dumps({"mapping": job["mapping"], "on_duplicate": "skip"}).encode(),
            "application/json",
        )
        api(port, token, "POST", f"/imports/{job['id']}/start")
        rows_done = None
        while True:
            time.sleep(0.2)
            state = api(port, token, "GET", f"/imports/{job['id']}")
            if state["status"] in ("failed", "cancelled"):
                sys.exit(f"import {state['status']}: {state['error']}")
            if state["status"] == "done" and rows_done is None:
                rows_done = time.perf_counter()
            if state["status"] == "done" and state["indexed"]:
                return rows_done - started, time.perf_counter() - rows_done
    finally:
        for process in (server, worker):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="run the job in this process (for profiling)")
    args = parser.parse_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    db = BENCH_DIR / "imports.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    source = BENCH_DIR / f"leads-{args.rows}.csv"
    if not source.exists():
        print(f"generating {source.name} …", flush=True)
        make_csv(source, args.rows)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "TIDE_MEDIA_ROOT": str(BENCH_DIR / "media"),
        "TIDE_DEBUG": "0",
        "TIDE_ALLOWED_HOSTS": "127.0.0.1",
        "TIDE_LOG_LEVEL": "ERROR",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    if args.in_process:
        out = shell(env, SETUP + IN_PROCESS.format(source=str(source)))
        print("\n".join(line for line in out.splitlines() if line.startswith("TIMING")))
        rows_s, index_s = (
            float(x) for x in next(line for line in out.splitlines() if line.startswith("PHASES")).split()[1:]
        )
        how = "in one process"
    else:
        shell(env, SETUP)
        rows_s, index_s = run_over_http(env, source)
        how = "through the Open API, a db_worker running the job"
    out = shell(env, OUTCOME)
    status, created, rejected, skipped, owned, pooled, indexed = next(
        line.split()[1:] for line in out.splitlines() if line.startswith("RESULT")
    )
    rate = args.rows / rows_s
    verdict = "ok" if rate >= TARGET_ROWS_PER_S else "below target"
    lines = [
        f"| import {args.rows:,} rows ({how}): upload, read, normalise, duplicate check, assignment, write leads "
        f"+ row outcomes (their creation history) | {rows_s:.1f} s | {rate:,.0f} rows/s "
        f"| ≥ {TARGET_ROWS_PER_S:,} rows/s "
        f"| {verdict} |",
        f"| then: search tokens + abbreviation keys of the {int(created):,} new leads (searchable) | "
        f"{index_s:.1f} s | {int(created) / max(index_s, 1e-9):,.0f} rows/s | | |",
        f"| whole job, file to searchable | {rows_s + index_s:.1f} s | {args.rows / (rows_s + index_s):,.0f} rows/s"
        " | | |",
    ]
    print(
        f"{status}: {created} created, {skipped} skipped, {rejected} rejected; {owned} to reps, {pooled} to the pool;"
        f" indexed={indexed}"
    )
    print("\n".join(lines))
    if args.write:
        calibration = f"a 10,000,000-step Python loop in {cpu_calibration():.2f} s"
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as f:
            f.write(
                f"\n### Import — {time.strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} CPUs, "
                f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {calibration})\n\n"
                "| scenario | time | throughput | target | |\n|---|---:|---:|---:|---|\n" + "\n".join(lines) + "\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
