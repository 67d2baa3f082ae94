"""Background jobs of the assignment rules: a re-run over more leads than a request should carry."""

from django_tasks import task


@task()
def rerun_assignment(lead_ids: list[int], actor_id: int) -> dict[str, int]:
    """Run the rules again on the given leads as `actor_id` would (his transfer permission applies)."""
    from org.models import User

    from . import actions

    actor = User.objects.get(pk=actor_id)
    result = actions.rerun_assignment(ids=lead_ids, user=actor)
    return {k: result[k] for k in ("changed", "unchanged", "skipped")}
