"""Studio UI routes of the Data (labeling) screen; included by projects/urls_ui.py."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from projects.views import data

P = "projects/<str:name>/data/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(P, data.data_page, name="data"),
    path(P + "distribution/", data.data_distribution, name="data-distribution"),
    path(P + "add/", data.data_add, name="data-add"),
    path(P + "upload/", data.data_upload, name="data-upload"),
    path(P + "bulk/", data.data_bulk, name="data-bulk"),
    path(P + "undo/", data.data_undo, name="data-undo"),
    path(P + "keys/", data.data_label_key, name="data-keys"),
    path(P + "<int:pk>/", data.data_row, name="data-row"),
    path(P + "<int:pk>/intent/", data.data_row_intent, name="data-intent"),
    path(P + "<int:pk>/dataset/", data.data_row_dataset, name="data-dataset"),
    path(P + "<int:pk>/text/", data.data_row_text, name="data-text"),
    path(P + "<int:pk>/spans/", data.data_span_add, name="data-span-add"),
    path(
        P + "<int:pk>/spans/<int:span_id>/delete/",
        data.data_span_remove,
        name="data-span-remove",
    ),
]
