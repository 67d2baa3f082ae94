"""Search tokens are derived data, so a signal keeps them in step with every save."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from core.models import TideModel

from .indexer import BUILDERS, index_record


@receiver(post_save)
def reindex_on_save(sender, instance, raw=False, **kwargs):
    if raw or not isinstance(instance, TideModel) or instance.object_type not in BUILDERS:
        return
    index_record(instance)
