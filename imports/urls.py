from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/cancel/", views.import_cancel, name="cancel"),
    path("<int:pk>/rejected.csv", views.rejected_rows, name="rejected"),
]
