from django.urls import path

from . import views

app_name = "pools"
urlpatterns = [
    path("", views.pool_list, name="list"),
    path("new/", views.pool_create, name="create"),
    path("due/", views.due_list, name="due"),
    path("holidays/", views.holidays, name="holidays"),
    path("release/<str:object_type>/<int:pk>/", views.release, name="release"),
    path("lock/<str:object_type>/<int:pk>/", views.lock, name="lock"),
    path("<int:pk>/", views.pool_detail, name="detail"),
    path("<int:pk>/settings/", views.pool_settings, name="settings"),
    path("<int:pk>/members/", views.pool_members, name="members"),
    path("<int:pk>/rules/", views.pool_rules, name="rules"),
    path("<int:pk>/rules/new/", views.rule_form, name="rule_create"),
    path("<int:pk>/rules/<int:rule_pk>/", views.rule_form, name="rule_edit"),
    path("<int:pk>/rules/<int:rule_pk>/delete/", views.rule_delete, name="rule_delete"),
    path("<int:pk>/recycle/", views.recycle, name="recycle"),
    path("<int:pk>/delete/", views.pool_delete, name="delete"),
    path("<int:pk>/records/<int:record_pk>/", views.pool_record, name="record"),
    path("<int:pk>/records/<int:record_pk>/claim/", views.claim, name="claim"),
]
