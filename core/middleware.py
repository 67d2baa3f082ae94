"""Request guards that hold for the whole API."""

from __future__ import annotations

import contextlib
import json
import re

from django.http import JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"
# A JSON escape of a UTF-16 surrogate: "\ud800" alone is a character no UTF-8 text can hold.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def flaw(text: str) -> str | None:
    """Why neither database can store `text`, or None: a NUL (PostgreSQL refuses it) or a lone surrogate
    (no UTF-8 text holds one)."""
    if NUL in text:
        return "nul"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def _unstorable_paths(value, path: str = ""):
    """(dotted path, flaw) of the strings neither database can store; paths as the API names fields in
    its errors: `account.name`, `ids.0`."""
    if isinstance(value, str):
        if problem := flaw(value):
            yield path or "__all__", problem
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if problem := flaw(str(key)):
                yield name, problem
            else:
                yield from _unstorable_paths(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_paths(item, f"{path}.{index}" if path else str(index))


class RejectNulInApi:
    """PostgreSQL stores no NUL character, in text or in JSON; SQLite does. Neither stores a lone UTF-16
    surrogate, which a JSON body can spell ("\\ud800"). An API call carrying one in its query, its JSON
    body or its form fields is answered 422 naming each such field, the same on both databases, before a
    handler can pass it on. Pages need no guard: Django's form fields refuse NUL, and form data is
    decoded from bytes, which hold no lone surrogate."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            fields = self.unstorable_fields(request)
            if fields:
                nul = _("Null characters are not allowed.")
                other = _("This text holds a character that is not valid Unicode (a lone surrogate).")
                return JsonResponse(
                    {
                        "code": "validation_error",
                        "message": _("Please correct the errors below."),
                        "errors": {field: [nul if problem == "nul" else other] for field, problem in fields.items()},
                    },
                    status=422,
                    json_dumps_params={"ensure_ascii": False},
                )
        return self.get_response(request)

    @staticmethod
    def unstorable_fields(request) -> dict[str, str]:
        """The fields neither database can store: name → its flaw ("nul" or "surrogate")."""
        found = list(_form_flaws(request.GET))
        if request.content_type == "application/x-www-form-urlencoded":
            found += _form_flaws(request.POST)
        elif request.content_type != "multipart/form-data":  # the API reads any other body as JSON
            # (uploads are left to the handlers: an anonymous client's file is not read before its 401)
            body = request.body
            if b"\\u0000" in body or b"\x00" in body or SURROGATE_ESCAPE.search(body):
                parsed = []
                with contextlib.suppress(ValueError, RecursionError):  # not JSON: the API says so itself
                    parsed = list(_unstorable_paths(json.loads(body)))
                found += parsed or ([("__all__", "nul")] if b"\x00" in body else [])
        fields: dict[str, str] = {}
        for path, problem in found:
            fields.setdefault(path, problem)
        return fields


def _form_flaws(data):
    for key, values in data.lists():
        problem = flaw(key) or next(filter(None, map(flaw, values)), None)
        if problem:
            yield key, problem
