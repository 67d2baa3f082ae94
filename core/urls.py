from django.contrib.auth import views as auth_views
from django.urls import path

from . import pages

app_name = "core"

urlpatterns = [
    path("", pages.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("recycle-bin/", pages.recycle_bin, name="recycle_bin"),
    path("recycle-bin/<str:object_type>/<int:pk>/restore/", pages.restore, name="restore"),
    path("me/tokens/", pages.api_tokens, name="api_tokens"),
    path("autocomplete/<str:object_type>/", pages.autocomplete, name="autocomplete"),
    path("regions/<str:level>/", pages.region_options, name="region_options"),
    path("history/", pages.history_list, name="history"),
    path("notifications/", pages.notifications, name="notifications"),
]
