from django.urls import path

from core.views import object_urlpatterns

from . import views

app_name = "leads"
urlpatterns = object_urlpatterns(
    list_view=views.LeadListView,
    detail_view=views.LeadDetailView,
    form_view=views.LeadFormView,
    delete_view=views.LeadDeleteView,
    transfer_view=views.LeadTransferView,
    team_view=views.LeadTeamView,
)
urlpatterns += [
    path("assign/", views.LeadAssignView.as_view(), name="assign"),
    path("<int:pk>/convert/", views.LeadConvertView.as_view(), name="convert"),
    path("<int:pk>/facts/", views.LeadFactsView.as_view(), name="facts"),
]
