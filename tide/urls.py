from django.contrib import admin
from django.urls import include, path

from core.api import not_found_json

from .api import api

handler404 = not_found_json

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("", include("core.urls")),
    path("org/", include("org.urls")),
    path("accounts/", include("accounts.urls")),
    path("contacts/", include("contacts.urls")),
    path("leads/", include("leads.urls")),
    path("opportunities/", include("opportunities.urls")),
    path("followups/", include("followups.urls")),
    path("search/", include("search.urls")),
    path("pools/", include("pools.urls")),
    path("duplicates/", include("dedupe.urls")),
    path("assignment/", include("assignment.urls")),
    path("imports/", include("imports.urls")),
    path("f/", include("capture.urls")),
]
