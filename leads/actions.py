"""State changes of leads; pages, the API and jobs call these and nothing else."""

from core import actions as core_actions

from .models import Lead


def create_lead(*, user, data: dict) -> Lead:
    return core_actions.create_record(model=Lead, user=user, data=data)


def update_lead(*, lead: Lead, user, data: dict, expected_version=None) -> Lead:
    return core_actions.update_record(instance=lead, user=user, data=data, expected_version=expected_version)


def delete_lead(*, lead: Lead, user, expected_version=None) -> Lead:
    return core_actions.delete_record(instance=lead, user=user, expected_version=expected_version)


def restore_lead(*, lead: Lead, user) -> Lead:
    return core_actions.restore_record(instance=lead, user=user)


def transfer_leads(*, ids, user, new_owner, note="") -> int:
    return core_actions.transfer_records(model=Lead, ids=ids, user=user, new_owner=new_owner, note=note)


def mark_invalid(*, lead: Lead, user, reason: str, note: str = "", expected_version=None) -> Lead:
    """Close a lead as invalid; the reason is required (validated by the model)."""
    from .choices import LeadStatus

    return core_actions.update_record(
        instance=lead,
        user=user,
        data={"status": LeadStatus.INVALID, "invalid_reason": reason, "invalid_note": note},
        expected_version=expected_version,
    )
