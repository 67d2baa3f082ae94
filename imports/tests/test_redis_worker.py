"""The same import task runs on Redis (RQ) workers, as in production. Needs Redis at TIDE_REDIS_URL."""

import os

import pytest

from core.choices import Scope
from imports import actions
from imports.choices import JobStatus
from imports.models import ImportJob

REDIS_URL = os.environ.get("TIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_queues(settings, monkeypatch):
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("TIDE_REQUIRE_REDIS"):  # CI's PostgreSQL run: Redis must be there
            pytest.fail(f"no Redis at {REDIS_URL}, and TIDE_REQUIRE_REDIS is set")
        pytest.skip(f"no Redis at {REDIS_URL}")
    queues = {name: {"URL": REDIS_URL} for name in ("default", "imports")}
    settings.RQ_QUEUES = queues  # before django_rq reads its settings
    import django_rq.settings as rq_settings

    monkeypatch.setattr(rq_settings, "QUEUES", queues)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "imports"]}}
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.mark.django_db
def test_an_import_runs_on_an_rq_worker(org, redis_queues):
    import django_rq
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rq import SimpleWorker

    from imports.jobs import run_import

    rep = org.user("redisrep", org.sh, scope=Scope.OWN)
    body = "公司名称,联系人\n甲公司,张三\n乙公司,李四\n".encode()
    job = actions.upload(user=rep, uploaded_file=SimpleUploadedFile("r.csv", body))
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    result = run_import.enqueue(job.pk)
    queue = django_rq.get_queue("imports")
    assert queue.count == 1
    from django_tasks_rq.backend import Job

    # what `manage.py rqworker --job-class django_tasks_rq.Job default imports` does, in this process
    SimpleWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 2
    result.refresh()
    assert result.return_value == 2
