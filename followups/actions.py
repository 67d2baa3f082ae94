"""State changes of followups; pages, the API and jobs call these and nothing else."""

from core import actions as core_actions

from .models import FollowUp


def create_followup(*, user, data: dict) -> FollowUp:
    return core_actions.create_record(model=FollowUp, user=user, data=data)


def update_followup(*, followup: FollowUp, user, data: dict, expected_version=None) -> FollowUp:
    return core_actions.update_record(instance=followup, user=user, data=data, expected_version=expected_version)


def delete_followup(*, followup: FollowUp, user, expected_version=None) -> FollowUp:
    return core_actions.delete_record(instance=followup, user=user, expected_version=expected_version)


def restore_followup(*, followup: FollowUp, user) -> FollowUp:
    return core_actions.restore_record(instance=followup, user=user)


def transfer_followups(*, ids, user, new_owner, note="") -> int:
    return core_actions.transfer_records(model=FollowUp, ids=ids, user=user, new_owner=new_owner, note=note)
