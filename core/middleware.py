"""Request guards that hold for the whole API."""

from __future__ import annotations

import contextlib
import json

from django.http import JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"


def _nul_paths(value, path: str = ""):
    """Dotted paths (as the API names fields in its errors: `account.name`, `ids.0`) of the strings
    holding a NUL character."""
    if isinstance(value, str):
        if NUL in value:
            yield path or "__all__"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield name
            else:
                yield from _nul_paths(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{path}.{index}" if path else str(index))


class RejectNulInApi:
    """PostgreSQL stores no NUL character, in text or in JSON; SQLite does. An API call carrying one in its
    query, its JSON body or its form fields is answered 422 naming each such field, the same on both
    databases, before a handler can pass it on. Pages need no guard: Django's form fields refuse it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            fields = self.fields_with_nul(request)
            if fields:
                message = _("Null characters are not allowed.")
                return JsonResponse(
                    {
                        "code": "validation_error",
                        "message": _("Please correct the errors below."),
                        "errors": {field: [message] for field in fields},
                    },
                    status=422,
                    json_dumps_params={"ensure_ascii": False},
                )
        return self.get_response(request)

    @staticmethod
    def fields_with_nul(request) -> list[str]:
        fields = [key for key, values in request.GET.lists() if NUL in key or any(NUL in v for v in values)]
        if request.content_type == "application/x-www-form-urlencoded":
            fields += [key for key, values in request.POST.lists() if NUL in key or any(NUL in v for v in values)]
        elif request.content_type != "multipart/form-data":  # the API reads any other body as JSON
            # (uploads are left to the handlers: an anonymous client's file is not read before its 401)
            body = request.body
            if b"\\u0000" in body or b"\x00" in body:
                found = []
                with contextlib.suppress(ValueError, RecursionError):  # not JSON: the API says so itself
                    found = list(_nul_paths(json.loads(body)))
                fields += found or (["__all__"] if b"\x00" in body else [])
        return list(dict.fromkeys(fields))
