from django.db import models
from django.utils.translation import gettext_lazy as _


class LeadSource(models.TextChoices):
    WEBSITE = "website", _("Website")
    WEB_FORM = "web_form", _("Web form")
    IMPORT = "import", _("Import")
    API = "api", _("Open API")
    EXHIBITION = "exhibition", _("Exhibition")
    REFERRAL = "referral", _("Referral")
    COLD_CALL = "cold_call", _("Cold call")
    ADVERTISING = "advertising", _("Advertising")
    WECHAT = "wechat", _("WeChat")
    PARTNER = "partner", _("Partner")
    OTHER = "other", _("Other")


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    INVALID = "invalid", _("Invalid")


class InvalidReason(models.TextChoices):
    DUPLICATE = "duplicate", _("Duplicate")
    NO_NEED = "no_need", _("No need")
    UNREACHABLE = "unreachable", _("Cannot be reached")
    FAKE = "fake", _("False information")
    COMPETITOR = "competitor", _("Competitor")
    OTHER = "other", _("Other")
