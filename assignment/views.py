"""Settings pages for administrators: assignment rules (ordered, with a condition builder),
territories, per-user caps, and qualification facts and levels. Views only call actions."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.choices import ObjectType
from core.conditions import OP_LABELS, registry
from core.errors import DomainError, validation_error_fields
from core.ids import parse_id, parse_ids
from core.models import ChangeLog
from core.regions import regions
from core.views import apply_errors
from org.permissions import is_admin

from . import actions
from .choices import Strategy
from .forms import (
    ConditionBuilder,
    FactForm,
    LevelForm,
    LimitForm,
    RuleForm,
    TerritoryForm,
    builder_context,
)
from .models import AssignmentRule, LeadLimit, QualificationFact, QualificationLevel, Territory
from .qualification import label_tree


def region_name(code: str) -> str:
    """广东省, 深圳市, 广州市 天河区: a district is named with its city."""
    if len(code) == 6:
        return regions().label("", code[:4], code) or code
    if len(code) == 4:
        return regions().label("", code) or code
    return regions().label(code) or code


def settings_admin_required(view):
    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _members(ids) -> list:
    from org.models import User

    ids = parse_ids(ids)
    found = User.objects.in_bulk(ids)
    return [found[i] for i in ids if i in found]


def _member_choices():
    from org.models import User

    return User.objects.filter(is_active=True).select_related("department").order_by("department__path", "username")


def fact_labels() -> dict[str, str]:
    return dict(QualificationFact.objects.values_list("code", "label"))


def _describe(conditions: dict, facts: dict[str, str]) -> list[str]:
    """A short reading of a condition set for the rule list: one line per condition."""
    lines = []

    def walk(node, depth=0):
        indent = "  " * depth
        for key in ("all", "any"):
            if key in node:
                if depth == 0 and key == "all":  # the usual top level: one line per condition
                    for child in node[key]:
                        walk(child, 0)
                    return
                lines.append(indent + (_("all of:") if key == "all" else _("any of:")))
                for child in node[key]:
                    walk(child, depth + 1)
                return
        if "not" in node:
            lines.append(indent + _("not:"))
            walk(node["not"], depth + 1)
            return
        leaf = label_tree(dict(node), facts)
        spec = registry.spec(ObjectType.LEAD, node["field"])
        label = leaf.get("label") if node["field"].startswith("fact:") else (spec.label if spec else node["field"])
        text = f"{label} {OP_LABELS.get(node['op'], node['op'])}"
        if leaf.get("value_label"):
            text += f" {leaf['value_label']}"
        lines.append(indent + text)

    walk(conditions or {"all": []})
    return lines


# --- rules ----------------------------------------------------------------------------------


@settings_admin_required
def rule_list(request):
    rules = list(AssignmentRule.objects.select_related("pool").prefetch_related("memberships__user"))
    facts = fact_labels()
    rows = []
    catch_all_seen = False
    for rule in rules:
        # No conditions and a strategy that places every lead (a territory rule lets unmapped regions through).
        unconditional = (rule.conditions or {"all": []}) == {"all": []}
        is_catch_all = unconditional and rule.strategy != Strategy.TERRITORY
        rows.append(
            {
                "rule": rule,
                "conditions": _describe(rule.conditions, facts),
                "members": rule.ordered_members(),
                "catch_all": is_catch_all,
                "fallback_only": catch_all_seen and rule.is_active,
            }
        )
        if rule.is_active and is_catch_all:
            catch_all_seen = True
    return render(
        request,
        "assignment/rules.html",
        {"rows": rows, "has_default": catch_all_seen, "territory_count": Territory.objects.count()},
    )


@settings_admin_required
def rule_form(request, pk=None):
    rule = get_object_or_404(AssignmentRule, pk=pk) if pk else None
    member_errors = []
    if request.method == "POST":
        form = RuleForm(request.POST)
        builder = ConditionBuilder(request.POST)
        member_ids = parse_ids(request.POST.getlist("member"))
        if form.is_valid():
            index = {}
            try:
                conditions, index = builder.raw(keep=rule.conditions if rule else None)
                data = {**form.cleaned_data, "conditions": conditions}
                if rule is None:
                    saved = actions.create_rule(user=request.user, data=data, member_ids=member_ids)
                else:
                    saved = actions.update_rule(
                        rule=rule,
                        user=request.user,
                        data=data,
                        member_ids=member_ids,
                        expected_version=request.POST.get("version"),
                    )
                messages.success(request, _("Rule “%(name)s” saved.") % {"name": saved.name})
                return redirect("assignment:rules")
            except ValidationError as error:
                fields = _fields(error)
                conditions_messages = fields.pop("conditions", [])
                if conditions_messages:
                    builder.apply_error(ValidationError(conditions_messages), index)
                member_errors = fields.pop("members", [])
                if fields:
                    apply_errors(form, ValidationError(fields))
            except DomainError as error:
                form.add_error(None, error.message)
        members = _members(member_ids)
    else:
        initial = {"is_active": True, "strategy": Strategy.ROUND_ROBIN}
        if rule is not None:
            initial = {
                "name": rule.name,
                "is_active": rule.is_active,
                "strategy": rule.strategy,
                "pool": rule.pool_id,
                "max_open_leads": rule.max_open_leads,
            }
        form = RuleForm(initial=initial)
        builder = ConditionBuilder(initial=rule.conditions if rule else None)
        members = rule.ordered_members() if rule else []
    context = {
        "form": form,
        "rule": rule,
        "members": members,
        "member_slots": range(max(2, 4 - len(members))),
        "member_choices": _member_choices(),
        "member_errors": member_errors,
        "history": ChangeLog.objects.filter(object_type=AssignmentRule.object_type, object_id=rule.pk)[:20]
        if rule
        else [],
        **builder_context(builder),
    }
    return render(request, "assignment/rule_form.html", context)


def _fields(error: ValidationError) -> dict:
    return validation_error_fields(error)


@settings_admin_required
@require_POST
def rule_delete(request, pk):
    rule = get_object_or_404(AssignmentRule, pk=pk)
    actions.delete_rule(rule=rule, user=request.user)
    messages.success(request, _("Rule “%(name)s” deleted.") % {"name": rule.name})
    return redirect("assignment:rules")


@settings_admin_required
@require_POST
def rule_move(request, pk):
    rule = get_object_or_404(AssignmentRule, pk=pk)
    try:
        actions.move_rule(rule=rule, user=request.user, direction=request.POST.get("direction", ""))
    except ValidationError:
        messages.error(request, _("Choose up or down."))
    return redirect("assignment:rules")


# --- territories ----------------------------------------------------------------------------


@settings_admin_required
def territory_list(request):
    territories = Territory.objects.select_related("department").prefetch_related("memberships__user", "regions")
    rows = [
        {"territory": t, "members": t.ordered_members(), "regions": [(c, region_name(c)) for c in t.codes()]}
        for t in territories
    ]
    return render(request, "assignment/territories.html", {"rows": rows})


@settings_admin_required
def territory_form(request, pk=None):
    territory = get_object_or_404(Territory, pk=pk) if pk else None
    member_errors = []
    if request.method == "POST":
        form = TerritoryForm(request.POST)
        member_ids = parse_ids(request.POST.getlist("member"))
        if form.is_valid():
            data = {k: form.cleaned_data[k] for k in ("name", "department", "distribution", "is_active")}
            try:
                if territory is None:
                    actions.create_territory(user=request.user, data=data, member_ids=member_ids, codes=form.codes())
                else:
                    actions.update_territory(
                        territory=territory,
                        user=request.user,
                        data=data,
                        member_ids=member_ids,
                        codes=form.codes(),
                        expected_version=request.POST.get("version"),
                    )
                messages.success(request, _("Territory “%(name)s” saved.") % {"name": data["name"]})
                return redirect("assignment:territories")
            except ValidationError as error:
                fields = _fields(error)
                if "regions" in fields:
                    for message in fields.pop("regions"):
                        form.add_error("regions", message)
                member_errors = fields.pop("members", [])
                if fields:
                    apply_errors(form, ValidationError(fields))
            except DomainError as error:
                form.add_error(None, error.message)
        members = _members(member_ids)
    else:
        initial = {"is_active": True}
        if territory is not None:
            codes = territory.codes()
            initial = {
                "name": territory.name,
                "department": territory.department_id,
                "distribution": territory.distribution,
                "is_active": territory.is_active,
                "regions": [c for c in codes if len(c) < 6],
                "districts": ", ".join(c for c in codes if len(c) == 6),
            }
        form = TerritoryForm(initial=initial)
        members = territory.ordered_members() if territory else []
    return render(
        request,
        "assignment/territory_form.html",
        {
            "form": form,
            "territory": territory,
            "members": members,
            "member_slots": range(max(2, 4 - len(members))),
            "member_choices": _member_choices(),
            "member_errors": member_errors,
        },
    )


@settings_admin_required
@require_POST
def territory_delete(request, pk):
    territory = get_object_or_404(Territory, pk=pk)
    actions.delete_territory(territory=territory, user=request.user)
    messages.success(request, _("Territory “%(name)s” deleted.") % {"name": territory.name})
    return redirect("assignment:territories")


# --- caps -----------------------------------------------------------------------------------


@settings_admin_required
def limits(request):
    form = LimitForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("remove"):
            from org.models import User

            target = get_object_or_404(User, pk=parse_id(request.POST.get("remove")) or 0)
            actions.set_lead_limit(user=request.user, target=target, max_open_leads=None)
            messages.success(request, _("Cap removed for %(user)s.") % {"user": target})
            return redirect("assignment:limits")
        if form.is_valid():
            try:
                actions.set_lead_limit(
                    user=request.user,
                    target=form.cleaned_data["user"],
                    max_open_leads=form.cleaned_data["max_open_leads"],
                )
                messages.success(request, _("Cap saved for %(user)s.") % {"user": form.cleaned_data["user"]})
                return redirect("assignment:limits")
            except ValidationError as error:
                apply_errors(form, error)
    rows = LeadLimit.objects.select_related("user", "user__department").order_by("user__username")
    return render(request, "assignment/limits.html", {"form": form, "rows": rows})


# --- qualification settings -----------------------------------------------------------------


@settings_admin_required
def qualification(request):
    facts = QualificationFact.objects.order_by("order", "id")
    labels = fact_labels()
    levels = [
        {"level": level, "conditions": _describe(level.conditions, labels)}
        for level in QualificationLevel.objects.order_by("order", "id")
    ]
    return render(request, "assignment/qualification.html", {"facts": facts, "levels": levels})


@settings_admin_required
def fact_form(request, pk=None):
    fact = get_object_or_404(QualificationFact, pk=pk) if pk else None
    form = FactForm(request.POST or None, instance=fact)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if not (k == "order" and v is None)}
        try:
            if fact is None:
                actions.create_fact(user=request.user, data=data)
            else:
                data.pop("code", None)
                actions.update_fact(
                    fact=fact, user=request.user, data=data, expected_version=request.POST.get("version")
                )
            messages.success(request, _("Fact saved."))
            return redirect("assignment:qualification")
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
    return render(
        request,
        "assignment/simple_form.html",
        {"form": form, "object": fact, "title": _("Qualification fact"), "back": "assignment:qualification"},
    )


@settings_admin_required
@require_POST
def fact_delete(request, pk):
    fact = get_object_or_404(QualificationFact, pk=pk)
    try:
        actions.delete_fact(fact=fact, user=request.user)
        messages.success(request, _("Fact “%(label)s” deleted.") % {"label": fact.label})
    except DomainError as error:
        messages.error(request, error.message)
    return redirect("assignment:qualification")


@settings_admin_required
def level_form(request, pk=None):
    level = get_object_or_404(QualificationLevel, pk=pk) if pk else None
    if request.method == "POST":
        form = LevelForm(request.POST, instance=level)
        builder = ConditionBuilder(request.POST)
        if form.is_valid():
            index = {}
            try:
                conditions, index = builder.raw(keep=level.conditions if level else None)
                data = {k: v for k, v in form.cleaned_data.items() if not (k == "order" and v is None)}
                data["conditions"] = conditions
                if level is None:
                    actions.create_level(user=request.user, data=data)
                else:
                    actions.update_level(
                        level=level, user=request.user, data=data, expected_version=request.POST.get("version")
                    )
                messages.success(request, _("Level saved."))
                return redirect("assignment:qualification")
            except ValidationError as error:
                fields = _fields(error)
                conditions_messages = fields.pop("conditions", []) + fields.pop("__all__", [])
                if conditions_messages:
                    builder.apply_error(ValidationError(conditions_messages), index)
                if fields:
                    apply_errors(form, ValidationError(fields))
            except DomainError as error:  # changed meanwhile by someone else
                form.add_error(None, error.message)
    else:
        form = LevelForm(instance=level)
        builder = ConditionBuilder(initial=level.conditions if level else None)
    return render(request, "assignment/level_form.html", {"form": form, "level": level, **builder_context(builder)})


@settings_admin_required
@require_POST
def level_delete(request, pk):
    level = get_object_or_404(QualificationLevel, pk=pk)
    actions.delete_level(level=level, user=request.user)
    messages.success(request, _("Level “%(name)s” deleted.") % {"name": level.name})
    return redirect("assignment:qualification")
