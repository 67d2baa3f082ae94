"""Organisation pages: the department tree, users (create, edit, departure and hand-over) and roles."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core import actions as core_actions
from core.choices import Action, ObjectType
from core.errors import DomainError, NotFoundError
from core.permissions import can
from core.views import apply_errors, form_data

from . import actions
from .forms import DepartmentForm, HandOverForm, RoleForm, UserForm
from .models import Department, Role, User


def _get(model, user, action, pk):
    try:
        return core_actions.get_for(model, user, action, pk)
    except NotFoundError:
        raise Http404 from None


@login_required
def department_tree(request):
    if not can(request.user, ObjectType.DEPARTMENT, Action.VIEW):
        raise PermissionDenied
    departments = Department.objects.visible_to(request.user).select_related("head").order_by("path")
    counts = {}
    for row in User.objects.filter(is_active=True).values_list("department_id", flat=True):
        counts[row] = counts.get(row, 0) + 1
    rows = [(d, counts.get(d.pk, 0)) for d in departments]
    return render(
        request,
        "org/departments.html",
        {
            "rows": rows,
            "can_create": can(request.user, ObjectType.DEPARTMENT, Action.CREATE),
            "editable_ids": set(Department.objects.visible_to(request.user, Action.EDIT).values_list("pk", flat=True)),
        },
    )


@login_required
def department_form(request, pk=None):
    instance = _get(Department, request.user, Action.EDIT, pk) if pk else None
    if instance is None and not can(request.user, ObjectType.DEPARTMENT, Action.CREATE):
        raise PermissionDenied
    form = DepartmentForm(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            if instance is None:
                actions.create_department(user=request.user, data=form_data(form))
            else:
                actions.update_department(
                    department=instance,
                    user=request.user,
                    data=form_data(form),
                    expected_version=request.POST.get("version"),
                )
            messages.success(request, _("Department saved."))
            return redirect("org:departments")
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
    return render(
        request,
        "core/object_form.html",
        {"form": form, "object": instance, "verbose_name": Department._meta.verbose_name},
    )


@login_required
def user_list(request):
    if not can(request.user, ObjectType.USER, Action.VIEW):
        raise PermissionDenied
    users = User.objects.visible_to(request.user).select_related("department", "manager").prefetch_related("roles")
    show = request.GET.get("show", "active")
    if show == "active":
        users = users.filter(is_active=True)
    elif show == "departed":
        users = users.filter(is_active=False)
    return render(
        request,
        "org/users.html",
        {
            "users": users.order_by("department__path", "username")[:500],
            "show": show,
            "can_create": can(request.user, ObjectType.USER, Action.CREATE),
            "editable_ids": set(User.objects.visible_to(request.user, Action.EDIT).values_list("pk", flat=True)),
        },
    )


@login_required
def user_form(request, pk=None):
    instance = _get(User, request.user, Action.EDIT, pk) if pk else None
    if instance is None and not can(request.user, ObjectType.USER, Action.CREATE):
        raise PermissionDenied
    form = UserForm(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form_data(form, exclude={"password", "username"} if instance else {"password"})
        roles = list(form.cleaned_data.get("roles") or [])
        try:
            if instance is None:
                actions.create_user(
                    user=request.user, data=data, roles=roles, password=form.cleaned_data.get("password")
                )
            else:
                with transaction.atomic():  # a refused password leaves the other changes unsaved too
                    saved = actions.update_user(
                        target=instance,
                        user=request.user,
                        data=data,
                        roles=roles,
                        expected_version=request.POST.get("version"),
                    )
                    if form.cleaned_data.get("password"):
                        actions.set_password(target=saved, user=request.user, password=form.cleaned_data["password"])
            messages.success(request, _("User saved."))
            return redirect("org:users")
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
    return render(
        request, "core/object_form.html", {"form": form, "object": instance, "verbose_name": User._meta.verbose_name}
    )


@login_required
def user_deactivate(request, pk):
    target = _get(User, request.user, Action.EDIT, pk)
    form = HandOverForm(request.POST or None, departing=target)
    if request.method == "POST" and form.is_valid():
        try:
            moved = actions.deactivate_user(
                target=target, user=request.user, hand_over_to=form.cleaned_data.get("hand_over_to")
            )
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            total = sum(moved.values())
            messages.success(
                request,
                _("%(user)s is marked as departed; %(count)d record(s) handed over.")
                % {"user": target, "count": total},
            )
            return redirect("org:users")
    owned = {}
    from core.registry import owned_models

    for object_type, model in owned_models().items():
        owned[ObjectType(object_type).label] = model.objects.filter(owner=target).count()
    return render(request, "org/deactivate.html", {"target": target, "form": form, "owned": owned})


@login_required
def role_list(request):
    if not can(request.user, ObjectType.ROLE, Action.VIEW):
        raise PermissionDenied
    roles = Role.objects.visible_to(request.user).prefetch_related("permissions")
    return render(
        request,
        "org/roles.html",
        {
            "roles": roles,
            "can_create": can(request.user, ObjectType.ROLE, Action.CREATE),
            "can_edit": can(request.user, ObjectType.ROLE, Action.EDIT),
        },
    )


@login_required
def role_form(request, pk=None):
    instance = _get(Role, request.user, Action.EDIT, pk) if pk else None
    if instance is None and not can(request.user, ObjectType.ROLE, Action.CREATE):
        raise PermissionDenied
    form = RoleForm(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_role(
                user=request.user,
                data=form_data(form),
                permissions=form.grants(),
                role=instance,
                expected_version=request.POST.get("version"),
            )
            messages.success(request, _("Role saved."))
            return redirect("org:roles")
        except ValidationError as error:
            apply_errors(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
    return render(request, "org/role_form.html", {"form": form, "object": instance})
