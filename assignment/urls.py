from django.urls import path

from . import views

app_name = "assignment"
urlpatterns = [
    path("", views.rule_list, name="rules"),
    path("rules/new/", views.rule_form, name="rule_create"),
    path("rules/<int:pk>/", views.rule_form, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/<int:pk>/move/", views.rule_move, name="rule_move"),
    path("territories/", views.territory_list, name="territories"),
    path("territories/new/", views.territory_form, name="territory_create"),
    path("territories/<int:pk>/", views.territory_form, name="territory_edit"),
    path("territories/<int:pk>/delete/", views.territory_delete, name="territory_delete"),
    path("caps/", views.limits, name="limits"),
    path("qualification/", views.qualification, name="qualification"),
    path("qualification/facts/new/", views.fact_form, name="fact_create"),
    path("qualification/facts/<int:pk>/", views.fact_form, name="fact_edit"),
    path("qualification/facts/<int:pk>/delete/", views.fact_delete, name="fact_delete"),
    path("qualification/levels/new/", views.level_form, name="level_create"),
    path("qualification/levels/<int:pk>/", views.level_form, name="level_edit"),
    path("qualification/levels/<int:pk>/delete/", views.level_delete, name="level_delete"),
]
