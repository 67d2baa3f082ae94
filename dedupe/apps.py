from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DedupeConfig(AppConfig):
    name = "dedupe"
    verbose_name = _("Duplicate check")

    def ready(self):
        from core import hooks
        from core.choices import ObjectType

        from . import signals
        from .service import check_on_save, lock_before_edit

        signals.connect()
        for object_type in (ObjectType.ACCOUNT, ObjectType.CONTACT, ObjectType.LEAD):
            hooks.register_save_check(object_type, check_on_save)
        hooks.register_before_lock(ObjectType.LEAD, lock_before_edit)
        self._install_api_handler()

    @staticmethod
    def _install_api_handler():
        """Answer a DuplicateError with its candidates: {code, message, errors, candidates}."""
        from tide.api import api

        from .api import duplicate_error_handler
        from .service import DuplicateError

        api.add_exception_handler(DuplicateError, duplicate_error_handler)
