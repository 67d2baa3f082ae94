from django.db import models
from django.utils.translation import gettext_lazy as _

# Lead fields a public form may ask for, in display order.
FORM_FIELDS = ["company", "contact_name", "title", "phone", "email", "province_code", "city_code", "notes"]


class SubmissionOutcome(models.TextChoices):
    CREATED = "created", _("Lead created")
    MATCHED = "matched", _("Added to an existing lead")
    INVALID = "invalid", _("Invalid input")
    SPAM = "spam", _("Caught as spam")
    RATE_LIMITED = "rate_limited", _("Too many submissions")
    REJECTED = "rejected", _("Refused by a rule")


# History entries of a web form's settings (ChangeLog.object_type): web forms are settings, not one of the
# record types in core.choices.ObjectType, so they are named here.
WEB_FORM_HISTORY_TYPE = "web_form"


class NotificationKind(models.TextChoices):
    RESUBMITTED = "form_resubmitted", _("A lead filled in a web form again")
