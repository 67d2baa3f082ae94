from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", pgettext_lazy("opportunity status", "Won")
    LOST = "lost", pgettext_lazy("opportunity status", "Lost")
