"""State changes of contacts; pages, the API and jobs call these and nothing else."""

from core import actions as core_actions

from .models import Contact


def create_contact(*, user, data: dict) -> Contact:
    return core_actions.create_record(model=Contact, user=user, data=data)


def update_contact(*, contact: Contact, user, data: dict, expected_version=None) -> Contact:
    return core_actions.update_record(instance=contact, user=user, data=data, expected_version=expected_version)


def delete_contact(*, contact: Contact, user, expected_version=None) -> Contact:
    return core_actions.delete_record(instance=contact, user=user, expected_version=expected_version)


def restore_contact(*, contact: Contact, user) -> Contact:
    return core_actions.restore_record(instance=contact, user=user)


def transfer_contacts(*, ids, user, new_owner, note="") -> int:
    return core_actions.transfer_records(model=Contact, ids=ids, user=user, new_owner=new_owner, note=note)
