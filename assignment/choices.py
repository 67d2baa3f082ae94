"""Choices of the assignment app: how a rule picks an owner, how a territory shares its leads."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from leads.choices import LeadStatus


class Strategy(models.TextChoices):
    USERS = "users", _("Named user (the next in the list when unavailable)")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Fewest open leads")
    TERRITORY = "territory", _("By territory")
    POOL = "pool", _("Into a public pool")


class Distribution(models.TextChoices):
    """How a territory shares its leads among its team."""

    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Fewest open leads")


class Combinator(models.TextChoices):
    ALL = "all", _("All rows hold (AND)")
    ANY = "any", _("Any row holds (OR)")


class GroupCombinator(models.TextChoices):
    ALL = "all", _("All groups hold (AND)")
    ANY = "any", _("Any group holds (OR)")


# A lead still being worked: these count towards a user's load and cap.
OPEN_LEAD_STATUSES = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)

# Statuses a qualification level may move a lead to, in the order a lead progresses.
LEVEL_STATUSES = (LeadStatus.CONTACTED, LeadStatus.QUALIFIED)
STATUS_RANK = {LeadStatus.NEW: 0, LeadStatus.CONTACTED: 1, LeadStatus.QUALIFIED: 2}

NOTIFICATION_KIND = "lead_assigned"

# History entries of settings use these object types (configuration, not business records).
RULE_OBJECT_TYPE = "assignment_rule"
TERRITORY_OBJECT_TYPE = "territory"
LIMIT_OBJECT_TYPE = "lead_limit"
FACT_OBJECT_TYPE = "qualification_fact"
LEVEL_OBJECT_TYPE = "qualification_level"
