from core.views import object_urlpatterns

from . import views

app_name = "contacts"
urlpatterns = object_urlpatterns(
    list_view=views.ContactListView,
    detail_view=views.ContactDetailView,
    form_view=views.ContactFormView,
    delete_view=views.ContactDeleteView,
    transfer_view=views.ContactTransferView,
    team_view=views.ContactTeamView,
)
