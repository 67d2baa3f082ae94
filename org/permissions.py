"""Who may change settings (pools, rules, forms): superusers and holders of the built-in admin role."""

ADMIN_ROLE_CODE = "admin"


def require_admin(user) -> None:
    """Guard of every settings action (pools, rules, web forms, duplicate rules)."""
    if not is_admin(user):
        from django.utils.translation import gettext as _

        from core.errors import PermissionDeniedError

        raise PermissionDeniedError(_("Only administrators may change these settings."))


def is_admin(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or user.roles.filter(code=ADMIN_ROLE_CODE, is_active=True).exists())
