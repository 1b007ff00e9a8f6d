"""``/api/v1/`` routes of the training app: the review queue
(``training/apis/review.py``). Included before ``projects.urls_v1``, whose last
pattern answers every unknown ``/api/v1`` path with Azure's 404."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training.apis import review

P = "projects/<str:project_name>"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{P}/review", review.ReviewListApi.as_view(), name="v1-review"),
    path(
        f"{P}/review/<int:log_id>", review.ReviewActApi.as_view(), name="v1-review-act"
    ),
]
