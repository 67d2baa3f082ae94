from django.db import models
from django.utils.translation import gettext_lazy as _


class PoolObjectType(models.TextChoices):
    LEAD = "lead", _("Leads")
    ACCOUNT = "account", _("Accounts")
