from django.urls import path

from . import views

app_name = "capture"
urlpatterns = [
    path("forms/", views.form_list, name="list"),
    path("forms/new/", views.form_edit, name="create"),
    path("forms/<int:pk>/", views.form_detail, name="detail"),
    path("forms/<int:pk>/edit/", views.form_edit, name="edit"),
    path("<str:key>/", views.public_form, name="public"),
]
