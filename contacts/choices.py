from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision maker")
    TECHNICAL_EVALUATOR = "technical_evaluator", _("Technical evaluator")
    USER = "user", pgettext_lazy("buying role", "User")
    PURCHASER = "purchaser", _("Purchaser")
    INFLUENCER = "influencer", _("Influencer")
    GATEKEEPER = "gatekeeper", _("Gatekeeper")


class Attitude(models.TextChoices):
    SUPPORTER = "supporter", _("Supporter")
    NEUTRAL = "neutral", _("Neutral")
    OPPONENT = "opponent", _("Opponent")
