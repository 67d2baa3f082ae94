"""Errors raised by actions, with stable codes that pages and the API turn into messages."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message=None, *, code: str | None = None, status: int | None = None, fields=None):
        self.message = message or self.default_message()
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}
        super().__init__(str(self.message))

    def default_message(self):
        return _("The request could not be carried out.")


class PermissionDeniedError(DomainError):
    status = 403
    code = "permission_denied"

    def default_message(self):
        return _("You do not have permission to do this.")


class NotFoundError(DomainError):
    status = 404
    code = "not_found"

    def default_message(self):
        return _("Not found, or you may not see it.")


class VersionConflictError(DomainError):
    status = 412
    code = "version_conflict"

    def default_message(self):
        return _("Someone else changed this record after you loaded it. Reload it and apply your change again.")


def validation_error_fields(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            ("__all__" if k == NON_FIELD_ERRORS else k): [str(m) for e in v for m in e.messages]
            for k, v in error.error_dict.items()
        }
    return {"__all__": [str(m) for m in error.messages]}
