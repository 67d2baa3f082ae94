from core.views import object_urlpatterns

from . import views

app_name = "accounts"
urlpatterns = object_urlpatterns(
    list_view=views.AccountListView,
    detail_view=views.AccountDetailView,
    form_view=views.AccountFormView,
    delete_view=views.AccountDeleteView,
    transfer_view=views.AccountTransferView,
    team_view=views.AccountTeamView,
)
