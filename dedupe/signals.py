"""Duplicate-check keys are derived data: kept in step with the name on every save (signals only for that)."""

from django.db.models.signals import post_delete, post_save, pre_save

from .normalize import normalize_name
from .service import NAME_FIELDS, refresh_name_keys


def set_match_keys(sender, instance, raw=False, update_fields=None, **kwargs):
    """match_name from the company (lead) or name (account)."""
    field_name = NAME_FIELDS[sender.object_type]
    if update_fields is not None and field_name not in update_fields:
        return
    name = normalize_name(getattr(instance, field_name) or "")
    instance._dedupe_name = name
    instance._dedupe_changed = name.core != instance.match_name or instance._state.adding
    instance.match_name = name.core


def refresh_keys(sender, instance, created=False, raw=False, update_fields=None, **kwargs):
    if not getattr(instance, "_dedupe_changed", False):
        return
    instance._dedupe_changed = False
    if update_fields is not None:  # a partial save does not write the keys itself
        sender.all_objects.filter(pk=instance.pk).update(match_name=instance.match_name)
    refresh_name_keys(sender.object_type, instance.pk, instance._dedupe_name)


def drop_keys(sender, instance, **kwargs):
    from .models import NameKey

    NameKey.objects.filter(object_type=sender.object_type, object_id=instance.pk).delete()


def connect() -> None:
    from accounts.models import Account
    from leads.models import Lead

    for model in (Account, Lead):
        uid = f"dedupe-{model.object_type}"
        pre_save.connect(set_match_keys, sender=model, dispatch_uid=f"{uid}-pre")
        post_save.connect(refresh_keys, sender=model, dispatch_uid=f"{uid}-post")
        post_delete.connect(drop_keys, sender=model, dispatch_uid=f"{uid}-delete")
