from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.choices import Action, ObjectType
from core.permissions import can


def navigation(request):
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        for object_type, url_name in (
            (ObjectType.ACCOUNT, "accounts:list"),
            (ObjectType.CONTACT, "contacts:list"),
            (ObjectType.LEAD, "leads:list"),
            (ObjectType.OPPORTUNITY, "opportunities:list"),
            (ObjectType.FOLLOWUP, "followups:list"),
        ):
            if can(user, object_type, Action.VIEW):
                items.append({"type": object_type, "label": ObjectType(object_type).label, "url_name": url_name})
    unread = 0
    flow = []
    admin = roles = False
    if user is not None and user.is_authenticated:
        from core.notify import unread_count
        from org.permissions import is_admin

        unread = unread_count(user)
        admin = is_admin(user)
        roles = can(user, ObjectType.ROLE, Action.VIEW)
        if can(user, ObjectType.LEAD, Action.CREATE):
            flow.append({"label": _("Import leads"), "url_name": "imports:list"})
        for label, url_name, admin_only in LEAD_FLOW_PAGES:
            if admin or not admin_only:
                flow.append({"label": label, "url_name": url_name})
    return {
        "nav_items": items,
        "tide_name": settings.TIDE_NAME,
        "unread_notifications": unread,
        "lead_flow_items": flow,
        "may_view_roles": roles,
    }


# (label, url name, admins only) of the lead-flow pages in the navbar's "Lead flow" menu
LEAD_FLOW_PAGES = [
    (_("Public pools"), "pools:list", False),
    (_("Due for recycling"), "pools:due", False),
    (_("Holiday calendar"), "pools:holidays", True),
    (_("Assignment rules"), "assignment:rules", True),
    (_("Qualification"), "assignment:qualification", True),
    (_("Web forms"), "capture:list", True),
    (_("Duplicate check"), "dedupe:check", False),
    (_("Merge history"), "dedupe:merges", False),
    (_("Duplicate rules"), "dedupe:rules", True),
]
