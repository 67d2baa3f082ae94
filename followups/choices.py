from django.db import models
from django.utils.translation import gettext_lazy as _


class FollowUpType(models.TextChoices):
    VISIT = "visit", _("Visit")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("Email")
    WECHAT = "wechat", _("WeChat")
    OTHER = "other", _("Other")
