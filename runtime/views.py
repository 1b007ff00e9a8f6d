"""The playground: query one of the project's deployments and see the routed result.

It calls the runtime's own code (``runtime.parsing``, ``runtime.services``): the
request body is built exactly as an ``:analyze-conversations`` or
``:query-knowledgebases`` client would send it and goes through the same parser and
predictor, so what the playground shows is what the API answers. No API key is
involved: the signed-in user needs read access to the project, and only the project's
own deployments can be chosen (an orchestration's targets are reached through its
routing, as in the API).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from projects.models import Project
from projects.permissions import (
    AnyUser,
    project_access_check,
    project_view,
    user_can,
)
from projects.services import Labeler
from runtime.parsing import analyze_request_parse, qna_request_parse
from runtime.registry import runtime
from runtime.services import conversation_analyze, knowledgebase_query
from studio.errors import StudioError
from studio.plain_errors import plain_message
from training.selectors import authoring as selectors
from training.services.review import data_add_corrected
from training.views._common import INVALID, context, is_htmx

TEMPLATE = "runtime/playground.html"
LABELED_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
MAX_TEXT = 1000
QNA_TOP = 3


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    category: str | None = None


def highlight(text: str, entities: list[dict[str, Any]]) -> list[Segment]:
    """The text cut into plain and entity segments (offsets in code points, which
    is what the playground asks the runtime for). Where predicted entities overlap
    the earlier-starting, longer one is highlighted; all are listed beside."""
    spans = sorted(
        (
            (int(e.get("offset", 0)), int(e.get("length", 0)), str(e.get("category")))
            for e in entities
            if int(e.get("length", 0)) > 0
        ),
        key=lambda s: (s[0], -s[1]),
    )
    segments: list[Segment] = []
    position = 0
    for offset, length, category in spans:
        if offset < position or offset + length > len(text):
            continue
        if offset > position:
            segments.append(Segment(text[position:offset]))
        segments.append(Segment(text[offset : offset + length], category))
        position = offset + length
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


@dataclass(frozen=True, slots=True)
class Bar:
    name: str
    confidence: float
    top: bool

    @property
    def percent(self) -> float:
        return round(self.confidence * 100, 1)


def _bars(scores: list[tuple[str, float]], top: str | None) -> list[Bar]:
    return [Bar(name, score, name == top) for name, score in scores]


def _conversation_view(text: str, prediction: dict[str, Any]) -> dict[str, Any]:
    scores = [
        (str(i["category"]), float(i["confidenceScore"]))
        for i in prediction.get("intents", [])
    ]
    entities = list(prediction.get("entities", []))
    return {
        "top_intent": prediction.get("topIntent"),
        "bars": _bars(scores, prediction.get("topIntent")),
        "segments": highlight(text, entities),
        "entities": entities,
    }


def _answers_view(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "answer": a.get("answer", ""),
            "percent": round(float(a.get("confidenceScore", 0.0)) * 100, 1),
            "questions": a.get("questions", []),
            "id": a.get("id"),
        }
        for a in answers
    ]


def result_view(project: Project, text: str, result: dict[str, Any]) -> dict[str, Any]:
    """What the template draws from a runtime response."""
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        return {"kind": "qna", "answers": _answers_view(result.get("answers", []))}
    prediction = result["result"]["prediction"]
    if prediction.get("projectKind") == "Conversation":
        return {"kind": "conversation", **_conversation_view(text, prediction)}
    intents: dict[str, dict[str, Any]] = prediction.get("intents", {})
    top = prediction.get("topIntent")
    scores = sorted(
        ((name, float(v.get("confidenceScore", 0.0))) for name, v in intents.items()),
        key=lambda s: -s[1],
    )
    view: dict[str, Any] = {
        "kind": "orchestration",
        "top_intent": top,
        "bars": _bars(scores, top),
    }
    routed = intents.get(top or "", {})
    view["target_kind"] = routed.get("targetProjectKind")
    error = (routed.get("error") or {}).get("message")
    view["target_error"] = plain_message(str(error)) if error else None
    target = routed.get("result")
    if isinstance(target, dict):
        if view["target_kind"] == "Conversation" and "prediction" in target:
            view["target"] = _conversation_view(text, target["prediction"])
        elif view["target_kind"] == "QuestionAnswering":
            view["answers"] = _answers_view(target.get("answers", []))
    return view


def query(
    project: Project, deployment: str, text: str, *, user: AnyUser
) -> dict[str, Any]:
    """Run the query through the runtime exactly as the API would.

    The deployment directory is checked against the version row first (one
    primary-key read): someone who has just deployed and switches to the playground
    must not get the previous model for the rest of the refresh interval.

    Through an orchestration link the user reaches only projects they may read
    themselves, as a user's API key does: the routed intent then carries the error
    a direct query would get, and no result."""
    runtime().directory.invalidate()
    if project.kind == Project.Kind.QUESTION_ANSWERING:
        request = qna_request_parse(
            {"question": text, "top": QNA_TOP},
            project_name=project.name,
            deployment_name=deployment,
        )
        return knowledgebase_query(request)
    body = {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "playground", "text": text}
        },
        "parameters": {
            "projectName": project.name,
            "deploymentName": deployment,
            "stringIndexType": "UnicodeCodePoint",
            "verbose": True,
        },
    }
    return conversation_analyze(
        analyze_request_parse(body),
        target_access=lambda name: project_access_check(user, name, "predict"),
    )


def _page_context(
    request: HttpRequest, project: Project, **extra: Any
) -> dict[str, Any]:
    deployments = list(
        selectors.deployments_list(project=project).values_list("name", flat=True)
    )
    can_add = project.kind != Project.Kind.QUESTION_ANSWERING and user_can(
        request.user, project, "label"
    )
    values: dict[str, Any] = {
        "can_add": can_add,
        "intent_names": list(project.intents.values_list("name", flat=True))
        if can_add
        else [],
        "deployments": deployments,
        "values": {
            "text": "",
            "deployment": "production"
            if "production" in deployments
            else (deployments[0] if deployments else ""),
        },
        "errors": {},
    }
    values.update(extra)
    return context(project, **values)


@project_view("read")
@require_GET
def playground_page(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, TEMPLATE, _page_context(request, project))


@project_view("read")
@require_POST
def playground_query(request: HttpRequest, project: Project) -> HttpResponse:
    text = request.POST.get("text", "")
    deployment = request.POST.get("deployment", "")
    values: dict[str, Any] = {"text": text, "deployment": deployment}
    errors: dict[str, str] = {}
    known = selectors.deployments_list(project=project).filter(name=deployment)
    if not text.strip():
        errors["text"] = "Type something to send."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"At most {MAX_TEXT} characters ({len(text)} typed)."
    if not deployment or not known.exists():
        errors["deployment"] = "Choose one of the project's deployments."
    result: dict[str, Any] | None = None
    if not errors:
        try:
            result = query(project, deployment, text, user=request.user)
        except StudioError as exc:
            field = "text" if "text" in (exc.target or "") else "general"
            errors[field] = plain_message(exc.message)
    extra: dict[str, Any] = {"values": values, "errors": errors}
    if result is not None:
        extra["result"] = view = result_view(project, text, result)
        # "Add to data" proposes the prediction as the label.
        values["intent"] = view.get("top_intent") or "None"
        extra["raw"] = json.dumps(result, indent=2, ensure_ascii=False)
    status = INVALID if errors else 200
    template = f"{TEMPLATE}#panel" if is_htmx(request) else TEMPLATE
    return render(
        request, template, _page_context(request, project, **extra), status=status
    )


@project_view("label", kinds=LABELED_KINDS)
@require_POST
def playground_add(request: HttpRequest, project: Project) -> HttpResponse:
    """ "Add to data": the query just tried, with the intent the analyst chose (the
    prediction by default), joins the project's data (``data_add_corrected``)."""
    text = request.POST.get("text", "")
    intent = request.POST.get("intent", "")
    deployment = request.POST.get("deployment", "")
    notice, error = "", ""
    try:
        added = data_add_corrected(
            project=project,
            text=text,
            intent=intent,
            source={"from": "playground", "deployment": deployment},
            labeled_by=Labeler.of_user(request.user),  # type: ignore[arg-type]
        )
        notice = added.summary
    except StudioError as exc:
        error = plain_message(exc.message)
    if not is_htmx(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, notice)
        return HttpResponseRedirect(reverse("ui:playground", args=[project.name]))
    values = {"text": text, "deployment": deployment, "intent": intent}
    extra = {"add_values": values, "add_notice": notice, "add_error": error}
    return render(
        request,
        f"{TEMPLATE}#add_form",
        _page_context(request, project, **extra),
        status=INVALID if error else 200,
    )
