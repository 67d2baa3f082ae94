"""`last_followup_at` on leads and accounts is derived data: the newest follow-up's time."""

from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import FollowUp


def _touch(model, pk, when) -> None:
    model.all_objects.filter(pk=pk).filter(Q(last_followup_at__isnull=True) | Q(last_followup_at__lt=when)).update(
        last_followup_at=when
    )


@receiver(post_save, sender=FollowUp)
def remember_last_followup(sender, instance, raw=False, **kwargs):
    if raw or instance.deleted_at is not None:
        return
    from accounts.models import Account
    from leads.models import Lead

    if instance.lead_id:
        _touch(Lead, instance.lead_id, instance.occurred_at)
    if instance.account_id:
        _touch(Account, instance.account_id, instance.occurred_at)
