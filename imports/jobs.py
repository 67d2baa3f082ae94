from django_tasks import task


@task(queue_name="imports")
def run_import(job_id: int) -> int:
    """Background half of an import: runs (or resumes) the job and returns how many rows it created."""
    from .pipeline import run_job

    return run_job(job_id).created_count


@task(queue_name="imports")
def resume_imports() -> int:
    """Scheduled: picks up imports whose worker died (see actions.resume_interrupted)."""
    from .actions import resume_interrupted

    return resume_interrupted()


@task(queue_name="imports")
def remove_orphan_files() -> int:
    """Scheduled: uploaded files no import refers to (see actions.remove_orphan_files)."""
    from .actions import remove_orphan_files

    return remove_orphan_files()
