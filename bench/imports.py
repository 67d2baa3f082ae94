"""Import throughput, end to end: a generated CSV of N leads → upload → mapping → the import job.

Runs against a scratch SQLite database under var/bench/ (created fresh each run) so it never touches
the app's data. Prints rows/s and, with --write, appends the figure to docs/benchmarks.md.

    .venv/bin/python bench/imports.py --rows 100000 [--write]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    db = BENCH_DIR / "imports.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    source = BENCH_DIR / f"leads-{args.rows}.csv"
    if not source.exists():
        print(f"generating {source.name} …", flush=True)
        make_csv(source, args.rows)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "TIDE_MEDIA_ROOT": str(BENCH_DIR / "media")}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    code = f"""
import time
from django.core.files.uploadedfile import SimpleUploadedFile
from assignment.models import AssignmentRule, RuleMember, Territory, TerritoryMember, TerritoryRegion
from imports import actions, pipeline
from imports.choices import JobStatus
from imports.models import ImportJob
from org.models import Department, User
from pools.models import Pool
user = User.objects.create_superuser("bench", "b@example.cn", "bench-pass-123")
# Assignment as a sales team sets it up: exhibition leads round-robin over five reps, Guangdong leads to
# the South China territory team, everything else into a public pool.
dept = Department.objects.create(name="华南大区")
reps = [User.objects.create_user(f"rep{{i}}", f"rep{{i}}@example.cn", "bench-pass-123", department=dept)
        for i in range(8)]
rr = AssignmentRule.objects.create(name="展会轮询", order=1, strategy="round_robin",
    conditions={{"all": [{{"field": "source", "op": "in", "value": ["exhibition"]}}]}})
for i, rep in enumerate(reps[:5]):
    RuleMember.objects.create(rule=rr, user=rep, position=i)
south = Territory.objects.create(name="华南", department=dept)
TerritoryRegion.objects.create(territory=south, code="44")
for i, rep in enumerate(reps[5:]):
    TerritoryMember.objects.create(territory=south, user=rep, position=i)
AssignmentRule.objects.create(name="按区域", order=2, strategy="territory")
pool = Pool.objects.create(name="线索公海", object_type="lead")
AssignmentRule.objects.create(name="其余进公海", order=3, strategy="pool", pool=pool)
import os
marks = {{}}
real_index = pipeline.index_job
def timed_index(job):
    marks["rows"] = time.perf_counter()
    if not os.environ.get("BENCH_ROWS_ONLY"):
        real_index(job)
pipeline.index_job = timed_index
started = time.perf_counter()
with open({str(source)!r}, "rb") as f:
    job = actions.upload(user=user, uploaded_file=SimpleUploadedFile("leads.csv", f.read()))
ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
import os
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
    import core.bulk, assignment.service
    pipeline.insert_rows = timed("insert_rows", pipeline.insert_rows)
    assignment.service._Planner.plan = timed("plan", assignment.service._Planner.plan)
    pipeline.BatchWriter.write = timed("write", pipeline.BatchWriter.write)
    pipeline.BatchWriter.check_duplicates = timed("dupes", pipeline.BatchWriter.check_duplicates)
    pipeline._lookup = timed("lookup", pipeline._lookup)
    from django.db import connection
    connection.commit = timed("commit", connection.commit)
    import assignment.service as svc
    svc.notify_assignees = timed("notify", svc.notify_assignees)
if os.environ.get("BENCH_PROFILE"):
    import cProfile, pstats
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
from leads.models import Lead
owned = Lead.objects.filter(owner__isnull=False).exclude(owner=user).count()
pooled = Lead.objects.filter(pool=pool, owner__isnull=True).count()
print("RESULT", job.status, job.created_count, job.rejected_count, job.skipped_count,
      round(marks["rows"] - started, 2), round(done - marks["rows"], 2), owned, pooled, job.indexed)
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    status, created, rejected, skipped, rows_s, index_s, owned, pooled, indexed = next(
        line.split()[1:] for line in out.splitlines() if line.startswith("RESULT")
    )
    rows_s, index_s = float(rows_s), float(index_s)
    print("\n".join(line for line in out.splitlines() if line.startswith("TIMING")))
    rate = args.rows / rows_s
    verdict = "ok" if rate >= TARGET_ROWS_PER_S else "below target"
    lines = [
        f"| import {args.rows:,} rows: read, normalise, duplicate check, assignment, write leads + history + "
        f"row outcomes | {rows_s:.1f} s | {rate:,.0f} rows/s | ≥ {TARGET_ROWS_PER_S:,} rows/s | {verdict} |",
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
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as f:
            f.write(
                f"\n### Import — {time.strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} CPUs, "
                f"{platform.python_version()}, SQLite {sqlite3.sqlite_version})\n\n"
                "| scenario | time | throughput | target | |\n|---|---:|---:|---:|---|\n" + "\n".join(lines) + "\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
