"""State changes of opportunities; pages, the API and jobs call these and nothing else."""

from core import actions as core_actions

from .models import Opportunity


def create_opportunity(*, user, data: dict) -> Opportunity:
    return core_actions.create_record(model=Opportunity, user=user, data=data)


def update_opportunity(*, opportunity: Opportunity, user, data: dict, expected_version=None) -> Opportunity:
    return core_actions.update_record(instance=opportunity, user=user, data=data, expected_version=expected_version)


def delete_opportunity(*, opportunity: Opportunity, user, expected_version=None) -> Opportunity:
    return core_actions.delete_record(instance=opportunity, user=user, expected_version=expected_version)


def restore_opportunity(*, opportunity: Opportunity, user) -> Opportunity:
    return core_actions.restore_record(instance=opportunity, user=user)


def transfer_opportunities(*, ids, user, new_owner, note="") -> int:
    return core_actions.transfer_records(model=Opportunity, ids=ids, user=user, new_owner=new_owner, note=note)
