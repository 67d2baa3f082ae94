from core.views import object_urlpatterns

from . import views

app_name = "followups"
urlpatterns = object_urlpatterns(
    list_view=views.FollowUpListView,
    detail_view=views.FollowUpDetailView,
    form_view=views.FollowUpFormView,
    delete_view=views.FollowUpDeleteView,
    transfer_view=views.FollowUpTransferView,
)
