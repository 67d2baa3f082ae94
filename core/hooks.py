"""Pre-save checks that other apps register on the generic create and update actions.

core/actions.py calls `run_save_checks` after a record is validated and before it is saved, inside the
action's transaction. A check receives the unsaved instance, the acting user, whether it is being
created, and an `options` dict; it stops the save by raising (a ValidationError for field errors, a
DomainError with a stable code otherwise). The duplicate check (dedupe/) is the first user.

Options reach a check two ways: passed explicitly (`create_record(..., options={"confirm_duplicates":
True})`), or for a block of code with `check_options(...)` when the call passes through layers that do
not forward them (a page → the domain's create_lead → create_record). Explicit options win.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_checks: dict[str, list[Callable]] = {}
_before_lock: dict[str, list[Callable]] = {}
_options: ContextVar[dict | None] = ContextVar("tide_check_options", default=None)

TRUE_VALUES = ("1", "true", "yes", "on")


def register_save_check(object_type: str, fn: Callable) -> None:
    """`fn(instance, *, user, options: dict, created: bool)` runs before every create and update of the type."""
    bucket = _checks.setdefault(str(object_type), [])
    if fn not in bucket:
        bucket.append(fn)


def unregister_save_check(object_type: str, fn: Callable) -> None:
    bucket = _checks.get(str(object_type), [])
    if fn in bucket:
        bucket.remove(fn)


def register_before_lock(object_type: str, fn: Callable) -> None:
    """`fn(model, *, pk, user, data: dict | None, options: dict)` runs in an update's (data) or a restore's
    (None) transaction before the record's row is locked: the place to take a lock that other writers take
    before row locks. `options` as the save checks get them."""
    bucket = _before_lock.setdefault(str(object_type), [])
    if fn not in bucket:
        bucket.append(fn)


def run_before_lock(model, *, pk, user, data: dict | None, options: dict | None = None) -> None:
    hooks = _before_lock.get(str(getattr(model, "object_type", "")), ())
    if not hooks:
        return
    merged = {**current_options(), **(options or {})}
    for fn in list(hooks):
        fn(model, pk=pk, user=user, data=data, options=merged)


@contextlib.contextmanager
def check_options(**options) -> Iterator[None]:
    """Options for every save check run inside the block, e.g. `check_options(confirm_duplicates=True)`."""
    token = _options.set({**(_options.get() or {}), **options})
    try:
        yield
    finally:
        _options.reset(token)


def current_options() -> dict:
    return dict(_options.get() or {})


def run_save_checks(instance, *, user, options: dict | None = None, created: bool) -> None:
    checks = _checks.get(str(getattr(instance, "object_type", "")), ())
    if not checks:
        return
    merged = {**current_options(), **(options or {})}
    for check in list(checks):
        check(instance, user=user, options=merged, created=created)


def options_from_request(request) -> dict:
    """The check options a page or API request carries: `confirm_duplicates` from a form field, a JSON
    body key or the `X-Confirm-Duplicates` header (1/true/yes)."""
    values = [request.headers.get("X-Confirm-Duplicates", "")]
    if request.method == "POST" and request.content_type != "application/json":
        values.append(request.POST.get("confirm_duplicates", ""))
    elif request.content_type == "application/json" and request.body:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            body = json.loads(request.body)
            if isinstance(body, dict):
                values.append(str(body.get("confirm_duplicates", "")))
    return {"confirm_duplicates": any(str(v).strip().lower() in TRUE_VALUES for v in values)}
