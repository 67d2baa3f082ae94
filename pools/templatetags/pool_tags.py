"""The public-pool panel of a lead's or an account's page: where it sits, when it goes back, claim or return."""

from django import template

from pools import actions
from pools.choices import ReleaseReason
from pools.models import Pool

register = template.Library()


@register.inclusion_tag("pools/_pool_panel.html", takes_context=True)
def pool_panel(context, record):
    request = context.get("request")
    user = getattr(request, "user", None)
    out = {"show": False, "record": record, "csrf_token": context.get("csrf_token")}
    if user is None or not user.is_authenticated or record is None:
        return out
    pool = record.pool if record.pool_id else None
    out["pool"] = pool
    out["can_open_pool"] = pool is not None and Pool.objects.for_user(user).filter(pk=pool.pk).exists()
    if record.owner_id is None:
        out["can_claim"] = pool is not None and pool.is_active and pool.is_member(user)
        out["show"] = pool is not None
        return out
    if actions.may_release(record, user):
        if pool is None:
            choices = Pool.objects.for_user(user).filter(object_type=record.object_type, is_active=True)
            out["choose_pool"] = list(choices)
            out["can_release"] = bool(out["choose_pool"])
        else:
            out["can_release"] = pool.is_active
        out["reasons"] = ReleaseReason.choices
        # after a refused return (pools.views.release): its errors and the reason chosen, at the form
        out["chosen_reason"] = request.GET.get("reason", "")
        out["release_errors"] = [m for m in context.get("messages", ()) if m.extra_tags == "release"]
        out["next"] = actions.next_recycling(record)
    out["can_lock"] = actions.may_lock(record, user)
    out["show"] = bool(pool or out.get("can_release") or out.get("next") or out["can_lock"] or record.is_locked)
    return out
