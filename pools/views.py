"""Pool pages: the pools a user belongs to, a pool's waiting records with claim buttons (HTMX) and
assignment, the administrators' settings / members / rules pages, the rep's due-for-recycling list, the
holiday calendar and the return-to-pool form of a record's page. Every change goes through pools.actions.

Records in a pool have no owner, so `visible_to` hides them below the ALL scope: these pages show them to
the pool's members and administrators after an explicit membership check, and to nobody else."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.choices import Action
from core.errors import DomainError, NotFoundError, validation_error_fields
from core.ids import parse_id, parse_ids
from core.keyset import keyset_page
from core.views import apply_errors, capped_count

from . import actions
from .choices import PoolObjectType, ReleaseReason
from .forms import HolidayForm, MembersForm, PoolFilterForm, PoolForm, ReleaseForm, RuleForm
from .models import ClaimLog, HolidayCalendar, Pool, RecyclingRule, is_pool_superadmin

PAGE_SIZE = 25


def _pool_or_404(request, pk) -> Pool:
    pool = Pool.objects.for_user(request.user).filter(pk=pk).first()
    if pool is None:
        raise Http404
    return pool


def _admin_pool(request, pk) -> Pool:
    pool = _pool_or_404(request, pk)
    if not pool.is_admin(request.user):
        raise PermissionDenied
    return pool


def _error_messages(request, error, tags: str = "") -> None:
    if isinstance(error, ValidationError):
        for msgs in validation_error_fields(error).values():
            for m in msgs:
                messages.error(request, m, extra_tags=tags)
    else:
        messages.error(request, error.message, extra_tags=tags)


@login_required
def pool_list(request):
    user = request.user
    pools = list(Pool.objects.for_user(user).order_by("object_type", "name"))
    member_of = set(Pool.objects.member_of(user).values_list("pk", flat=True))
    administered = set(Pool.objects.administered_by(user).values_list("pk", flat=True))
    rows = [
        {
            "pool": pool,
            "waiting": capped_count(pool.open_records()),
            "is_member": pool.pk in member_of,
            "is_admin": pool.pk in administered,
        }
        for pool in pools
    ]
    return render(request, "pools/list.html", {"rows": rows, "can_create": is_pool_superadmin(user)})


@login_required
def pool_detail(request, pk):
    pool = _pool_or_404(request, pk)
    user = request.user
    is_admin = pool.is_admin(user)
    if request.method == "POST":
        if request.POST.get("operation") == "assign" and is_admin:
            return _assign(request, pool)
        raise Http404
    form = PoolFilterForm(request.GET or None)
    qs = pool.open_records()
    if form.is_bound:
        qs = form.apply(qs)
    try:
        rows, next_cursor = keyset_page(
            qs, field="created_at", descending=True, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except ValidationError:
        rows, next_cursor = keyset_page(qs, field="created_at", descending=True, cursor=None, limit=PAGE_SIZE)
    params = request.GET.copy()
    params.pop("cursor", None)
    next_url = None
    if next_cursor:
        params["cursor"] = next_cursor
        next_url = "?" + params.urlencode()
    is_member = pool.is_member(user)
    context = {
        "pool": pool,
        "form": form,
        "rows": rows,
        "next_url": next_url,
        "is_first_page": not request.GET.get("cursor"),
        "is_member": is_member,
        "is_admin": is_admin,
        "is_lead": pool.object_type == PoolObjectType.LEAD,
        "total": capped_count(qs),
        "state": actions.claim_state(pool, user) if is_member else None,
        "members": pool.members().order_by("department__path", "username") if is_admin else (),
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "pool-rows":
        return render(request, "pools/_rows.html", context)
    return render(request, "pools/detail.html", context)


def _assign(request, pool):
    from org.models import User

    ids = parse_ids(request.POST.getlist("ids"))
    member = User.objects.filter(pk=parse_id(request.POST.get("member")) or 0).first()
    try:
        count = actions.assign_from_pool(pool=pool, ids=ids, user=request.user, member=member)
    except (ValidationError, DomainError) as error:
        _error_messages(request, error)
    else:
        messages.success(request, _("%(count)d record(s) assigned to %(user)s.") % {"count": count, "user": member})
    return HttpResponseRedirect(f"{reverse('pools:detail', args=[pool.pk])}?{request.POST.get('query', '')}")


def _record_in_pool(request, pool, record_pk):
    record = pool.model.objects.filter(pk=record_pk, pool=pool).select_related("owner").first()
    if record is None:
        raise Http404
    return record


def _shown_to(user, pool, record) -> bool:
    """Whether `user` may see `record`'s pool card: while it waits in the pool, as a member; after, as
    anyone else, only through the permission point."""
    now = pool.model.objects.filter(pk=record.pk).values("owner_id", "pool_id").first()
    if now is not None and now["owner_id"] is None and now["pool_id"] == pool.pk:
        return True
    return pool.model.objects.visible_to(user, Action.VIEW).filter(pk=record.pk).exists()


@login_required
def pool_record(request, pk, record_pk):
    """A waiting record as the pool's members see it before claiming, with the reasons it came back."""
    pool = _pool_or_404(request, pk)
    record = _record_in_pool(request, pool, record_pk)
    if record.owner_id is not None:
        if pool.model.objects.visible_to(request.user, Action.VIEW).filter(pk=record.pk).exists():
            return redirect(record.get_absolute_url())
        raise Http404
    story = (
        ClaimLog.objects.filter(object_type=pool.object_type, object_id=record.pk)
        .select_related("user", "actor")
        .order_by("-at", "-id")[:20]
    )
    reasons = dict(ReleaseReason.choices)
    return render(
        request,
        "pools/record.html",
        {
            "pool": pool,
            "object": record,
            "is_lead": pool.object_type == PoolObjectType.LEAD,
            "is_member": pool.is_member(request.user),
            "story": [(entry, reasons.get(entry.reason, "")) for entry in story],
        },
    )


@login_required
@require_POST
def claim(request, pk, record_pk):
    pool = _pool_or_404(request, pk)
    record = _record_in_pool(request, pool, record_pk)
    error, gone = None, False
    try:
        record = actions.claim_record(model=pool.model, pk=record.pk, user=request.user)
    except NotFoundError:
        raise Http404 from None
    except DomainError as exc:
        error = exc.message
        gone = exc.code in ("already_claimed", "not_in_pool")  # someone else was quicker: nothing to claim
    if request.headers.get("HX-Request"):
        return render(
            request,
            "pools/_record_row.html",
            {
                "obj": record,
                # A record someone owns now shows only to those who may see it: any pool member could
                # otherwise read the card of every record that ever waited in the pool by trying ids.
                "hidden": error is not None and not _shown_to(request.user, pool, record),
                "pool": pool,
                "is_member": True,
                "is_admin": pool.is_admin(request.user),
                "is_lead": pool.object_type == PoolObjectType.LEAD,
                "claimed": error is None,
                "error": error,
                "gone": gone,
                "oob_state": actions.claim_state(pool, request.user),  # the badges above the list, swapped too
            },
        )
    if error:
        messages.error(request, error)
        return redirect("pools:detail", pk=pool.pk)
    messages.success(request, _("%(name)s is yours now.") % {"name": record})
    return redirect(record.get_absolute_url())


@login_required
def pool_create(request):
    if not is_pool_superadmin(request.user):
        raise PermissionDenied
    form = PoolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pool = actions.create_pool(user=request.user, data=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Pool “%(name)s” created; now choose its members.") % {"name": pool})
            return redirect("pools:members", pk=pool.pk)
    return render(
        request, "pools/form.html", {"form": form, "title": _("New public pool"), "cancel": reverse("pools:list")}
    )


@login_required
def pool_settings(request, pk):
    pool = _admin_pool(request, pk)
    form = PoolForm(request.POST or None, pool=pool)
    if request.method == "POST" and form.is_valid():
        try:
            pool = actions.update_pool(pool=pool, user=request.user, data=form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": pool})
            return redirect("pools:settings", pk=pool.pk)
    return render(
        request,
        "pools/form.html",
        {
            "form": form,
            "pool": pool,
            "tab": "settings",
            "title": _("Settings"),
            "cancel": pool.get_absolute_url(),
            "history": actions.settings_history(pool)[:30],
        },
    )


@login_required
def pool_members(request, pk):
    pool = _admin_pool(request, pk)
    form = MembersForm(request.POST or None, pool=pool)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.update_pool(
                pool=pool,
                user=request.user,
                data={},
                member_department_ids=[d.pk for d in data["member_departments"]],
                member_user_ids=[u.pk for u in data["member_users"]],
                admin_ids=[u.pk for u in data["admins"]],
            )
        except ValidationError as error:
            for field, msgs in validation_error_fields(error).items():
                name = field.removesuffix("_ids")
                name = {
                    "member_department": "member_departments",
                    "member_user": "member_users",
                    "admin": "admins",
                }.get(name, name)
                for m in msgs:
                    form.add_error(name if name in form.fields else None, m)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": pool})
            return redirect("pools:members", pk=pool.pk)
    return render(
        request,
        "pools/form.html",
        {
            "form": form,
            "pool": pool,
            "tab": "members",
            "title": _("Members"),
            "cancel": pool.get_absolute_url(),
            "member_count": pool.members().count(),
        },
    )


@login_required
def pool_rules(request, pk):
    pool = _admin_pool(request, pk)
    return render(
        request,
        "pools/rules.html",
        {"pool": pool, "tab": "rules", "rules": pool.rules.order_by("id")},
    )


@login_required
def rule_form(request, pk, rule_pk=None):
    pool = _admin_pool(request, pk)
    rule = None
    if rule_pk is not None:
        rule = RecyclingRule.objects.filter(pool=pool, pk=rule_pk).first()
        if rule is None:
            raise Http404
    from assignment.forms import ConditionBuilder, builder_context

    form = RuleForm(request.POST or None, pool=pool, rule=rule)
    if request.method == "POST":
        builder = ConditionBuilder(request.POST, model=pool.model)
        index = {}
        try:
            conditions, index = builder.raw(keep=rule.conditions if rule else None)
            if form.is_valid():
                data = {**form.data_for_action(), "conditions": conditions}
                if rule is None:
                    actions.create_rule(pool=pool, user=request.user, data=data)
                else:
                    actions.update_rule(rule=rule, user=request.user, data=data)
                messages.success(request, _("Rule saved."))
                return redirect("pools:rules", pk=pool.pk)
        except ValidationError as error:
            fields = validation_error_fields(error)
            for m in fields.pop("grade_days", []):
                form.add_error(None, m)
            conditions_messages = fields.pop("conditions", [])
            if conditions_messages:
                builder.apply_error(ValidationError(conditions_messages), index)
            apply_errors(form, ValidationError(fields))
        except DomainError as error:
            form.add_error(None, error.message)
    else:
        builder = ConditionBuilder(initial=rule.conditions if rule else None)
    return render(
        request,
        "pools/form.html",
        {
            "form": form,
            "pool": pool,
            "tab": "rules",
            "title": str(rule) if rule else _("New recycling rule"),
            "cancel": reverse("pools:rules", args=[pool.pk]),
            **builder_context(builder, include_facts=False, model=pool.model),
            "builder_title": _("Only records matching"),
        },
    )


@login_required
@require_POST
def rule_delete(request, pk, rule_pk):
    pool = _admin_pool(request, pk)
    rule = RecyclingRule.objects.filter(pool=pool, pk=rule_pk).first()
    if rule is None:
        raise Http404
    actions.delete_rule(rule=rule, user=request.user)
    messages.success(request, _("Rule “%(name)s” removed.") % {"name": rule})
    return redirect("pools:rules", pk=pool.pk)


@login_required
@require_POST
def recycle(request, pk):
    pool = _admin_pool(request, pk)
    count = actions.recycle_now(pool=pool, user=request.user)
    messages.success(request, _("%(count)d record(s) went back to the pool.") % {"count": count})
    return redirect("pools:rules", pk=pool.pk)


@login_required
@require_POST
def pool_delete(request, pk):
    pool = _pool_or_404(request, pk)
    try:
        actions.delete_pool(pool=pool, user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("pools:settings", pk=pool.pk)
    messages.success(request, _("Pool “%(name)s” deleted.") % {"name": pool})
    return redirect("pools:list")


@login_required
def due_list(request):
    try:
        days = min(max(int(request.GET.get("days", 7)), 0), 90)
    except ValueError:
        days = 7
    items = actions.due_for_user(user=request.user, within_days=days)
    today = timezone.localdate()
    rows = [{"item": i, "days_left": (i.due_date - today).days} for i in items]
    return render(request, "pools/due.html", {"rows": rows, "days": days, "day_choices": (3, 7, 14, 30, 90)})


def _record_model(object_type: str):
    """The lead or account model a record page's form names in its address."""
    if object_type not in PoolObjectType.values:
        raise Http404
    return actions.model_for(object_type)


@login_required
@require_POST
def release(request, object_type, pk):
    """The return-to-pool form on a record's page."""
    model = _record_model(object_type)
    form = ReleaseForm(request.POST)
    back = reverse(f"{model._meta.app_label}:detail", args=[pk])
    # errors go back to the form, at the foot of a long page on a phone, with the reason chosen kept
    again = f"{back}?{urlencode({'reason': request.POST.get('reason', '')[:30]})}#pool-panel"
    if not form.is_valid():
        for msgs in form.errors.values():
            for m in msgs:
                messages.error(request, m, extra_tags="release")
        return redirect(again)
    pool = None
    if request.POST.get("pool"):
        pool = Pool.objects.filter(pk=parse_id(request.POST["pool"]) or 0).first()
    try:
        record = actions.release_record(
            model=model,
            pk=pk,
            user=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            pool=pool,
        )
    except NotFoundError:
        raise Http404 from None
    except (ValidationError, DomainError) as error:
        _error_messages(request, error, tags="release")
        return redirect(again)
    messages.success(request, _("%(name)s is back in the pool “%(pool)s”.") % {"name": record, "pool": record.pool})
    if model.objects.visible_to(request.user, Action.VIEW).filter(pk=record.pk).exists():
        return redirect(back)
    if Pool.objects.for_user(request.user).filter(pk=record.pool_id).exists():
        return redirect("pools:detail", pk=record.pool_id)
    return redirect(f"{model._meta.app_label}:list")


@login_required
@require_POST
def lock(request, object_type, pk):
    """Lock or unlock a record against recycling from its page (`locked`: 1 or 0)."""
    model = _record_model(object_type)
    locked = request.POST.get("locked") == "1"
    try:
        record = actions.set_locked(model=model, pk=pk, user=request.user, locked=locked)
    except NotFoundError:
        raise Http404 from None
    except (ValidationError, DomainError) as error:
        _error_messages(request, error)
    else:
        if locked:
            messages.success(
                request,
                _("%(name)s is locked: recycling rules that spare locked records leave it alone.") % {"name": record},
            )
        else:
            messages.success(request, _("%(name)s is unlocked: recycling rules apply again.") % {"name": record})
    return redirect(f"{model._meta.app_label}:detail", pk)


@login_required
def holidays(request):
    """The holiday calendar: everyone may read it, administrators keep it up to date."""
    user = request.user
    can_edit = is_pool_superadmin(user)
    today = timezone.localdate()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    year = min(max(year, 2000), 2100)
    form = HolidayForm(initial={"date": datetime.date(year, 1, 1)})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        operation = request.POST.get("operation")
        try:
            if operation == "delete":
                day = datetime.date.fromisoformat(request.POST.get("date", ""))
                actions.delete_holiday(user=user, date=day)
                messages.success(request, _("%(date)s removed from the calendar.") % {"date": day})
                return redirect(f"{reverse('pools:holidays')}?year={day.year}")
            if operation == "seed":
                count = actions.seed_holidays(user=user)
                messages.success(
                    request, _("%(count)d day(s) loaded from the chinesecalendar package.") % {"count": count}
                )
                return redirect(f"{reverse('pools:holidays')}?year={year}")
            form = HolidayForm(request.POST)
            if form.is_valid():
                entry = actions.save_holiday(user=user, **form.cleaned_data)
                messages.success(request, _("%(date)s saved.") % {"date": entry.date})
                return redirect(f"{reverse('pools:holidays')}?year={entry.date.year}")
        except ValueError:
            messages.error(request, _("Enter a valid date (YYYY-MM-DD)."))
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            messages.error(request, error.message)
    entries = list(HolidayCalendar.objects.filter(date__year=year).order_by("date"))
    years = sorted({d.year for d in HolidayCalendar.objects.dates("date", "year")} | {today.year, today.year + 1})
    next_year_missing = not HolidayCalendar.objects.filter(date__year=today.year + 1).exists()
    return render(
        request,
        "pools/holidays.html",
        {
            "entries": entries,
            "year": year,
            "years": years,
            "form": form,
            "can_edit": can_edit,
            "next_year": today.year + 1,
            "next_year_missing": next_year_missing,
            "holiday_count": sum(1 for e in entries if not e.is_workday),
            "workday_count": sum(1 for e in entries if e.is_workday),
        },
    )
