"""Generic pages shared by every object type: list (filters, sort, saved views, keyset pages,
bulk transfer, export), detail (follow-ups, team, history), create/edit, delete, transfer.

Views stay thin: every read goes through `visible_to`, every change through an action."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from . import actions as core_actions
from . import history, hooks
from .choices import Action, ObjectType, ShareAccess
from .errors import DomainError, NotFoundError, validation_error_fields
from .export import csv_response
from .ids import parse_id, parse_ids
from .keyset import keyset_page, parse_ordering, visibility_branches
from .models import ChangeLog, SavedView
from .permissions import can, grants_for

PAGE_SIZE = 25
COUNT_CAP = 10000


def capped_count(qs, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """Count up to `cap` rows: a filtered list shows its size without counting a million rows."""
    branches = visibility_branches(qs)
    if branches is None:
        n = qs.order_by()[: cap + 1].count()
    else:  # one OR of "his own" and "shared with him" reads every lead on SQLite: count each along its index
        ids = set()
        for branch, _by_index in branches:
            ids.update(branch.order_by().values_list("pk", flat=True)[: cap + 1])
        n = len(ids)
    return min(n, cap), n > cap


def apply_errors(form, error: ValidationError) -> None:
    for field, messages_ in validation_error_fields(error).items():
        name = field.removesuffix("_id")
        target = name if name in form.fields else (field if field in form.fields else None)
        for message in messages_:
            form.add_error(target, message)


class FilterForm(forms.Form):
    """GET filters of a list. `lookups` maps a field to the queryset lookup it filters."""

    lookups: dict[str, str] = {}
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)

    def apply(self, qs):
        if not self.is_valid():
            return qs
        for name, lookup in self.lookups.items():
            value = self.cleaned_data.get(name)
            if value not in (None, "", []):
                qs = qs.filter(**{lookup: value})
        query = self.cleaned_data.get("q")
        if query:
            qs = self.apply_search(qs, query)
        return qs

    def apply_search(self, qs, query):
        from search.backends import filter_matching

        return filter_matching(qs, query)


class ObjectListView(LoginRequiredMixin, View):
    model = None
    filter_form_class = FilterForm
    columns: list[tuple[str, str]] = []  # (label, template fragment name or attribute)
    orderings: dict[str, str] = {"created_at": "created_at"}
    default_ordering = "-created_at"
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    export_fields: list[str] = []
    transfer_action = None
    template_name = "core/object_list.html"
    row_template = ""

    @property
    def object_type(self):
        return self.model.object_type

    def base_queryset(self, action=Action.VIEW):
        qs = self.model.objects.visible_to(self.request.user, action)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        return qs

    def filter_form(self):
        return (
            self.filter_form_class(self.request.GET or None, user=self.request.user)
            if _takes_user(self.filter_form_class)
            else self.filter_form_class(self.request.GET or None)
        )

    def get(self, request):
        if not can(request.user, self.object_type, Action.VIEW):
            raise PermissionDenied
        form = self.filter_form()
        if request.GET.get("export") == "csv":
            return self.export(form)
        qs = form.apply(self.base_queryset()) if form.is_bound else self.base_queryset()
        try:
            field, descending = parse_ordering(request.GET.get("sort"), self.orderings, self.default_ordering)
            rows, next_cursor = keyset_page(
                qs, field=field, descending=descending, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
            )
        except ValidationError:
            field, descending = parse_ordering(None, self.orderings, self.default_ordering)
            rows, next_cursor = keyset_page(qs, field=field, descending=descending, cursor=None, limit=PAGE_SIZE)
        total, more = capped_count(qs)
        summary = self.summary(qs)
        params = request.GET.copy()
        params.pop("cursor", None)
        next_url = None
        if next_cursor:
            params_next = params.copy()
            params_next["cursor"] = next_cursor
            next_url = "?" + params_next.urlencode()
        query_string = params.urlencode()
        context = {
            "model": self.model,
            "object_type": self.object_type,
            "verbose_name": self.model._meta.verbose_name,
            "verbose_name_plural": self.model._meta.verbose_name_plural,
            "form": form,
            "rows": rows,
            "row_template": self.row_template,
            "columns": self.columns,
            "total": total,
            "total_more": more,
            "next_url": next_url,
            "is_first_page": not request.GET.get("cursor"),
            "sort": ("-" if descending else "") + [k for k, v in self.orderings.items() if v == field][0],
            "sort_options": self.sort_options(),
            "query_string": query_string,
            "saved_views": SavedView.objects.filter(object_type=self.object_type).filter(user=request.user)
            | SavedView.objects.filter(object_type=self.object_type, is_shared=True),
            "can_create": can(request.user, self.object_type, Action.CREATE),
            "can_export": can(request.user, self.object_type, Action.EXPORT),
            "can_transfer": self.transfer_action is not None and can(request.user, self.object_type, Action.TRANSFER),
            "owners": assignable_users(request.user, self.object_type, Action.TRANSFER),
            "url_namespace": self.request.resolver_match.namespace,
            "summary": summary,
        }
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "list-rows":
            return render(request, "core/partials/list_rows.html", context)
        return render(request, self.template_name, context)

    def summary(self, qs) -> list[tuple[str, str]]:
        """(label, value) pairs shown above the list, e.g. pipeline totals; none by default."""
        return []

    def sort_options(self):
        options = []
        for key in self.orderings:
            label = self.model._meta.get_field(self.orderings[key]).verbose_name
            options.append((f"-{key}", f"{label} ↓"))
            options.append((key, f"{label} ↑"))
        return options

    def export(self, form):
        if not can(self.request.user, self.object_type, Action.EXPORT):
            raise PermissionDenied
        qs = self.base_queryset(Action.EXPORT)
        if form.is_bound:
            qs = form.apply(qs)
        fields = [self.model._meta.get_field(name) for name in self.export_fields]
        header = ["ID"] + [str(f.verbose_name) for f in fields]

        def rows():
            for obj in qs.order_by("-created_at", "-id").iterator(chunk_size=2000):
                yield [obj.pk] + [history.display_value(obj, f.name) for f in fields]

        history_note = _("Exported %(type)s") % {"type": self.model._meta.verbose_name_plural}
        ChangeLog.objects.create(
            object_type=self.object_type,
            object_id=0,
            object_repr=history_note,
            action="update",
            actor=self.request.user,
            note=self.request.GET.urlencode()[:500],
        )
        return csv_response(self.object_type, header, rows())

    def post(self, request):
        operation = request.POST.get("operation")
        if operation == "save_view":
            return self.save_view()
        if operation == "delete_view":
            core_actions.delete_view(user=request.user, view_id=parse_id(request.POST.get("view_id")))
            return redirect(request.path)
        if operation == "transfer" and self.transfer_action is not None:
            return self.bulk_transfer()
        raise Http404

    def save_view(self):
        query = self.request.POST.get("query", "").replace("\x00", "")
        try:
            view = core_actions.save_view(
                user=self.request.user,
                object_type=self.object_type,
                name=self.request.POST.get("name") or "",
                query=query,
                is_shared=bool(self.request.POST.get("is_shared")),
            )
            messages.success(self.request, _("View “%(name)s” saved.") % {"name": view.name})
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(self.request, m)
        return HttpResponseRedirect(f"{self.request.path}?{query}")

    def bulk_transfer(self):
        from org.models import User

        ids = parse_ids(self.request.POST.getlist("ids"))
        owner = User.objects.filter(pk=parse_id(self.request.POST.get("owner")) or 0).first()
        back = f"{self.request.path}?{self.request.POST.get('query', '')}"
        if not ids:
            messages.warning(self.request, _("Select the records to transfer first."))
            return HttpResponseRedirect(back)
        try:
            count = self.transfer_action(ids=ids, user=self.request.user, new_owner=owner)
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(self.request, m)
        except DomainError as error:
            messages.error(self.request, error.message)
        else:
            messages.success(
                self.request, _("%(count)d record(s) transferred to %(user)s.") % {"count": count, "user": owner}
            )
        return HttpResponseRedirect(back)


def _takes_user(form_class) -> bool:
    return getattr(form_class, "takes_user", False)


def assignable_users(user, object_type, action):
    """Active users this user may assign records of `object_type` to, for owner pickers."""
    from org.models import User

    from .permissions import users_in_scope_q

    scope = grants_for(user).scope(object_type, action)
    if scope is None:
        return User.objects.none()
    q = users_in_scope_q(user, scope, "id")
    qs = User.objects.filter(is_active=True).select_related("department")
    return qs if q is None else qs.filter(q)


class ObjectDetailView(LoginRequiredMixin, View):
    model = None
    template_name = ""
    select_related: tuple[str, ...] = ()
    followup_field = None  # the FollowUp field pointing at this type

    def get_object(self, pk):
        try:
            obj = core_actions.get_for(self.model, self.request.user, Action.VIEW, pk)
        except NotFoundError:
            raise Http404 from None
        if self.select_related:
            obj = self.model.objects.select_related(*self.select_related).get(pk=obj.pk)
        return obj

    def extra_context(self, obj) -> dict:
        return {}

    def get(self, request, pk):
        obj = self.get_object(pk)
        user = request.user
        object_type = self.model.object_type
        context = {
            "object": obj,
            "object_type": object_type,
            "verbose_name": self.model._meta.verbose_name,
            "url_namespace": request.resolver_match.namespace,
            "can_edit": self.model.objects.visible_to(user, Action.EDIT).filter(pk=obj.pk).exists(),
            "can_delete": self.model.objects.visible_to(user, Action.DELETE).filter(pk=obj.pk).exists(),
            "can_transfer": hasattr(obj, "owner_id")
            and self.model.objects.visible_to(user, Action.TRANSFER).filter(pk=obj.pk).exists(),
            "history": history.entries_for(obj, reader=user),
            "shareable": getattr(self.model, "shareable", False),
        }
        if context["can_transfer"]:
            context["owners"] = assignable_users(user, object_type, Action.TRANSFER)
        if context["shareable"]:
            context["team"] = core_actions.team_of(obj)
            context["share_access"] = ShareAccess.choices
            if context["can_edit"]:
                from org.models import User

                context["team_candidates"] = User.objects.filter(is_active=True).order_by(
                    "department__path", "username"
                )
        if self.followup_field:
            context.update(followup_context(user, self.followup_field, obj))
        context.update(self.extra_context(obj))
        return render(request, self.template_name, context)


def followup_context(user, field: str, obj) -> dict:
    from followups.forms import FollowUpForm
    from followups.models import FollowUp

    followups = (
        FollowUp.objects.visible_to(user, Action.VIEW)
        .filter(**{field: obj})
        .select_related("owner", "contact", "lead", "opportunity", "account")
        .order_by("-occurred_at", "-id")[:100]
    )
    return {
        "followups": followups,
        "followup_form": FollowUpForm(user=user, initial={field: obj.pk})
        if can(user, ObjectType.FOLLOWUP, Action.CREATE)
        else None,
        "followup_subject": f"{field}={obj.pk}",
    }


class ObjectFormView(LoginRequiredMixin, View):
    """Create (pk None) or edit one record through its domain actions."""

    model = None
    form_class = None
    template_name = "core/object_form.html"
    create_action = None  # (user, form) -> instance
    update_action = None  # (instance, user, form, expected_version) -> instance

    def get_form(self, instance=None, data=None):
        return self.form_class(data=data, instance=instance, user=self.request.user, initial=self.initial())

    def initial(self):
        return dict(self.request.GET.items())

    def get_instance(self, pk):
        if pk is None:
            if not can(self.request.user, self.model.object_type, Action.CREATE):
                raise PermissionDenied
            return None
        try:
            return core_actions.get_for(self.model, self.request.user, Action.EDIT, pk)
        except NotFoundError:
            raise Http404 from None

    def render_form(self, form, instance, duplicates=None):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "object": instance,
                "verbose_name": self.model._meta.verbose_name,
                "url_namespace": self.request.resolver_match.namespace,
                # a save check (dedupe) found possible duplicates: list them and offer to confirm
                "duplicates": getattr(duplicates, "candidates", None),
                "duplicate_code": getattr(duplicates, "code", ""),
            },
        )

    def get(self, request, pk=None):
        instance = self.get_instance(pk)
        return self.render_form(self.get_form(instance), instance)

    def post(self, request, pk=None):
        instance = self.get_instance(pk)
        form = self.get_form(instance, data=request.POST)
        duplicates = None
        if form.is_valid():
            try:
                # options such as "create despite a possible duplicate" reach the save checks (core/hooks.py)
                with hooks.check_options(**hooks.options_from_request(request)):
                    if instance is None:
                        saved = type(self).create_action(request.user, form)
                        messages.success(request, _("%(name)s created.") % {"name": saved})
                    else:
                        saved = type(self).update_action(instance, request.user, form, request.POST.get("version"))
                        messages.success(request, _("%(name)s saved.") % {"name": saved})
                return redirect(saved.get_absolute_url())
            except ValidationError as error:
                apply_errors(form, error)
                duplicates = error if getattr(error, "candidates", None) else None
            except DomainError as error:
                form.add_error(None, error.message)
        return self.render_form(form, instance, duplicates)


def form_data(form, exclude=()) -> dict:
    """Cleaned values of the model fields a form edits (many-to-many fields excluded)."""
    model = form._meta.model
    names = {f.name for f in model._meta.get_fields() if getattr(f, "concrete", False) and not f.many_to_many}
    return {k: v for k, v in form.cleaned_data.items() if k in names and k not in exclude and k in form.fields}


class ObjectDeleteView(LoginRequiredMixin, View):
    model = None
    delete_action = None

    def post(self, request, pk):
        try:
            obj = core_actions.get_for(self.model, request.user, Action.DELETE, pk)
            type(self).delete_action(obj, request.user)
        except NotFoundError:
            raise Http404 from None
        messages.success(request, _("%(name)s moved to the recycle bin.") % {"name": obj})
        return redirect(f"{request.resolver_match.namespace}:list")


class ObjectTransferView(LoginRequiredMixin, View):
    model = None
    transfer_action = None

    def post(self, request, pk):
        from org.models import User

        owner = User.objects.filter(pk=parse_id(request.POST.get("owner")) or 0).first()
        try:
            obj = core_actions.get_for(self.model, request.user, Action.TRANSFER, pk)
            type(self).transfer_action(
                ids=[obj.pk], user=request.user, new_owner=owner, note=request.POST.get("note", "")
            )
            messages.success(request, _("Transferred to %(user)s.") % {"user": owner})
        except NotFoundError:
            raise Http404 from None
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(request, m)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect(reverse(f"{request.resolver_match.namespace}:detail", args=[pk]))


class ObjectTeamView(LoginRequiredMixin, View):
    model = None

    def post(self, request, pk):
        from org.models import User

        try:
            obj = core_actions.get_for(self.model, request.user, Action.EDIT, pk)
            member = User.objects.filter(pk=parse_id(request.POST.get("user")) or 0).first()
            if request.POST.get("remove"):
                core_actions.unshare_record(instance=obj, user=request.user, member=member)
            else:
                core_actions.share_record(
                    instance=obj, user=request.user, member=member, access=request.POST.get("access", ShareAccess.VIEW)
                )
        except NotFoundError:
            raise Http404 from None
        except ValidationError as error:
            for msgs in validation_error_fields(error).values():
                for m in msgs:
                    messages.error(request, m)
        except DomainError as error:
            messages.error(request, error.message)
        return redirect(reverse(f"{request.resolver_match.namespace}:detail", args=[pk]))


def object_urlpatterns(*, list_view, detail_view, form_view, delete_view, transfer_view=None, team_view=None):
    from django.urls import path

    patterns = [
        path("", list_view.as_view(), name="list"),
        path("new/", form_view.as_view(), name="create"),
        path("<int:pk>/", detail_view.as_view(), name="detail"),
        path("<int:pk>/edit/", form_view.as_view(), name="edit"),
        path("<int:pk>/delete/", delete_view.as_view(), name="delete"),
    ]
    if transfer_view:
        patterns.append(path("<int:pk>/transfer/", transfer_view.as_view(), name="transfer"))
    if team_view:
        patterns.append(path("<int:pk>/team/", team_view.as_view(), name="team"))
    return patterns
