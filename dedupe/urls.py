from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "dedupe"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dedupe:check"), name="index"),
    path("check/", views.CheckView.as_view(), name="check"),
    path("rules/", views.RulesView.as_view(), name="rules"),
    path("merge/", views.MergeView.as_view(), name="merge"),
    path("merges/", views.MergeListView.as_view(), name="merges"),
    path("merges/<int:pk>/", views.MergeDetailView.as_view(), name="merge_detail"),
]
