"""A throwaway URLconf exercising the API building blocks without real endpoints."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from studio.api.paging import paged_response
from studio.api.views import AzureApiView
from studio.errors import Conflict


class EchoApi(AzureApiView):
    def post(self, request: Request) -> Response:
        return Response({"echo": self.json_body(request)})

    def get(self, request: Request) -> Response:
        return paged_response(
            request, list(range(7)), lambda n: {"n": n}, default_page_size=3
        )

    def delete(self, request: Request) -> Response:
        raise Conflict("Busy.", target="project")


class QnaEchoApi(EchoApi):
    from studio.api.versions import ApiFamily

    api_family = ApiFamily.QUESTION_ANSWERING


def _view(cls: Any) -> Any:
    return cls.as_view()


urlpatterns = [
    path("language/echo", _view(EchoApi)),
    path("language/qna-echo", _view(QnaEchoApi)),
]
