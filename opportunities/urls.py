from core.views import object_urlpatterns

from . import views

app_name = "opportunities"
urlpatterns = object_urlpatterns(
    list_view=views.OpportunityListView,
    detail_view=views.OpportunityDetailView,
    form_view=views.OpportunityFormView,
    delete_view=views.OpportunityDeleteView,
    transfer_view=views.OpportunityTransferView,
    team_view=views.OpportunityTeamView,
)
