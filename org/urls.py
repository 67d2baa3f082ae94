from django.urls import path

from . import views

app_name = "org"
urlpatterns = [
    path("departments/", views.department_tree, name="departments"),
    path("departments/new/", views.department_form, name="department_create"),
    path("departments/<int:pk>/edit/", views.department_form, name="department_edit"),
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_form, name="user_create"),
    path("users/<int:pk>/edit/", views.user_form, name="user_edit"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("roles/", views.role_list, name="roles"),
    path("roles/new/", views.role_form, name="role_create"),
    path("roles/<int:pk>/edit/", views.role_form, name="role_edit"),
]
