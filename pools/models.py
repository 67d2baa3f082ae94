"""Public pools (公海): leads or accounts that nobody owns, which members claim from."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import PoolObjectType


class Pool(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)
    object_type = models.CharField(_("holds"), max_length=20, choices=PoolObjectType.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["object_type", "name"]
        verbose_name = _("public pool")
        verbose_name_plural = _("public pools")

    def __str__(self):
        return self.name
