from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self):
        from core import history

        from .history import converted_lead_entries

        history.register_related(converted_lead_entries)
