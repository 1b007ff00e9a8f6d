"""Studio UI routes of the Playground screen; included by projects/urls_ui.py
(namespace "ui")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from runtime import views

G = "projects/<str:name>/playground/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(G, views.playground_page, name="playground"),
    path(G + "query", views.playground_query, name="playground-query"),
    path(G + "add", views.playground_add, name="playground-add"),
]
