from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class PoolObjectType(models.TextChoices):
    LEAD = "lead", _("Leads")
    ACCOUNT = "account", _("Accounts")


class RuleKind(models.TextChoices):
    """What a recycling rule waits for; the last two only make sense for one object type each."""

    NO_FOLLOWUP = "no_followup", _("No follow-up")
    NO_OPPORTUNITY = "no_opportunity", _("No new opportunity")
    NOT_CONVERTED = "not_converted", _("Not converted")
    NOT_WON = "not_won", _("Not won")


RULE_KINDS_BY_TYPE = {
    PoolObjectType.LEAD: (RuleKind.NO_FOLLOWUP, RuleKind.NOT_CONVERTED),
    PoolObjectType.ACCOUNT: (RuleKind.NO_FOLLOWUP, RuleKind.NO_OPPORTUNITY, RuleKind.NOT_WON),
}


class DayCount(models.TextChoices):
    CALENDAR = "calendar", _("Calendar days")
    WORKING = "working", _("Working days (China)")


class ReleaseReason(models.TextChoices):
    """Why a rep gives a record back to the pool (退回原因)."""

    NO_NEED = "no_need", _("No need right now")
    UNREACHABLE = "unreachable", _("Cannot be reached")
    NOT_DECISION_MAKER = "not_decision_maker", _("Not the decision maker")
    HAS_SUPPLIER = "has_supplier", _("Already has a supplier")
    WRONG_INFO = "wrong_info", _("Wrong information")
    OUT_OF_TERRITORY = "out_of_territory", _("Outside my territory")
    OTHER = "other", pgettext_lazy("release reason", "Other")


class ClaimAction(models.TextChoices):
    CLAIM = "claim", pgettext_lazy("pool log", "Claimed")
    ASSIGN = "assign", pgettext_lazy("pool log", "Assigned")
    RELEASE = "release", pgettext_lazy("pool log", "Returned")
    RECYCLE = "recycle", pgettext_lazy("pool log", "Recycled")


class HolidaySource(models.TextChoices):
    PACKAGE = "package", _("chinesecalendar package")
    MANUAL = "manual", _("Entered by an administrator")


class NotificationKind(models.TextChoices):
    RECYCLE_REMINDER = "pool_recycle_reminder", _("Recycling reminder")
    ASSIGNED = "pool_assigned", _("Assigned from a public pool")


# History entries of a pool's settings, its recycling rules included (ChangeLog.object_type): the pool's
# own `object_type` field says which records it holds, so this is named apart.
POOL_HISTORY_TYPE = "pool"
