"""Training jobs, trained models and snapshots (azure-api.md §3.4–§3.6, §3.8).

``train_start`` validates a ``:train`` body and records a job; ``train_task`` runs
``train_execute`` on a worker:

1. load the project's snapshot and training data (``training.training_data``),
2. split (percentage: stratified and seeded; manual: the ``Test`` dataset),
3. fit the intent classifier and, for Conversation projects, the entity extractor on
   the training part — the deployed model is the one the evaluation describes, as in
   Azure, so there is exactly one fit,
4. evaluate on the test part,
5. write the artifact and the snapshot to storage, then in ONE transaction replace the
   label's ``TrainedModel``, write its ``EvaluationResult`` rows and move the project's
   ``last_trained_at``; after commit, delete the replaced model's files if unused.

Nothing is written to the database before step 5, so a worker killed mid-training
leaves everything as it was (the sweeper fails the job; a retry trains again). Files
written in step 5 by a worker killed before its commit are orphans that nothing
references (see training/README.md).

Progress: ``Job.percent_complete`` is the job's overall progress; the first
``TRAINING_SHARE`` percent are training, the next ``EVALUATION_SHARE`` evaluation,
the rest saving. ``training_job_result`` derives Azure's ``trainingStatus`` and
``evaluationStatus`` from it, so polling shows both moving.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from celery import shared_task
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.lro import iso
from jobs.models import Job
from jobs.services import (
    JobCancelled,
    JobContext,
    QueueLimitReached,
    job_create,
    job_execute,
)
from projects import services as project_services
from projects.formats.conversation import document_mask_secrets, metadata_as_azure
from projects.models import Project, Utterance
from projects.permissions import Actor, actor_params, job_actor
from projects.validators import dots_only_error
from studio.errors import Conflict, InvalidArgument, NotFound
from studio.inputs import echo
from studio.vocabulary import CLU_KINDS, TRAINING_CONFIG_VERSIONS
from training.artifact_store import artifact_delete_if_unused, artifact_save
from training.engine.bundles import ConversationBundle, OrchestrationBundle
from training.engine.child import ChildFit
from training.engine.embeddings import (
    AdvancedModeUnavailable,
    default_encoder_name,
    encoder_entry,
    load_encoder,
    primary_language,
)
from training.engine.entities import EntityDefinitionError, EntityExtractor
from training.engine.entities.learned import vector_classes
from training.engine.evaluation import (
    calibration_report,
    evaluate_entities,
    evaluate_intents,
    evaluation_summary,
    threshold_report,
)
from training.engine.intents import IntentClassifier
from training.engine.offsets import (
    StringIndexType,
    from_code_points,
    parse_index_type,
)
from training.engine.static_vectors import (
    STATIC_LANGUAGES,
    StaticVectors,
    StaticVectorsUnavailable,
    available_table,
    build_in_background,
    static_dir,
    table_path,
)
from training.models import EvaluationResult, TrainedModel
from training.training_data import (
    NONE_INTENT,
    SNAPSHOT_INDEX_TYPE,
    TrainingData,
    training_data_load,
    training_data_split,
    training_data_validate,
    training_links_check,
)

logger = logging.getLogger(__name__)

MAX_TRAINED_MODELS_PER_PROJECT = 10
MODEL_LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")
TRAINING_MODES = ("standard", "advanced")
EVALUATION_KINDS = ("percentage", "manual")
DEFAULT_TRAINING_SPLIT = 80
SNAPSHOTS_DIR = "snapshots"
BULK_BATCH = 2000
CANCEL_CHECK_SECONDS = 0.5

# .NET ticks of the Unix epoch: Azure's model ids end in ticks, like its job ids.
_EPOCH_TICKS = 621_355_968_000_000_000

# Shares of Job.percent_complete (see the module doc).
TRAINING_SHARE = 80
EVALUATION_SHARE = 15
_LOAD_DONE = 5
# Test utterances between two progress reports (and cancel checks) in evaluation.
_EVALUATION_REPORT_EVERY = 50


# ---------------------------------------------------------------- request


def _latest_config_version() -> str:
    return max(version for version, _ in TRAINING_CONFIG_VERSIONS)


def config_version_expiry(version: str) -> date:
    return dict(TRAINING_CONFIG_VERSIONS)[version]


def _percent(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(
            f"evaluationOptions.{name} must be a number between 0 and 100.",
            target=f"evaluationOptions.{name}",
        )
    if value != int(value) or not 0 <= value <= 100:
        raise InvalidArgument(
            f"evaluationOptions.{name} must be a whole number between 0 and 100, "
            f"got {value!r}.",
            target=f"evaluationOptions.{name}",
        )
    return int(value)


def _evaluation_options(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgument(
            "evaluationOptions must be an object.", target="evaluationOptions"
        )
    kind = raw.get("kind", "percentage") or "percentage"
    if kind not in EVALUATION_KINDS:
        raise InvalidArgument(
            f"evaluationOptions.kind {kind!r} is not one of "
            f"{', '.join(EVALUATION_KINDS)}.",
            target="evaluationOptions.kind",
        )
    if kind == "manual":
        return {"kind": "manual"}
    given = {
        name: _percent(raw[name], name)
        for name in ("trainingSplitPercentage", "testingSplitPercentage")
        if raw.get(name) is not None
    }
    # One number alone implies the other; neither gives Azure's default 80/20.
    train = given.get(
        "trainingSplitPercentage",
        100 - given.get("testingSplitPercentage", 100 - DEFAULT_TRAINING_SPLIT),
    )
    test = given.get("testingSplitPercentage", 100 - train)
    if train + test != 100:
        raise InvalidArgument(
            "evaluationOptions.trainingSplitPercentage and testingSplitPercentage "
            f"must add up to 100, got {train} + {test}.",
            target="evaluationOptions",
        )
    if train < 1:
        raise InvalidArgument(
            "evaluationOptions.trainingSplitPercentage must be at least 1: a model "
            "needs training data.",
            target="evaluationOptions.trainingSplitPercentage",
        )
    return {
        "kind": "percentage",
        "trainingSplitPercentage": train,
        "testingSplitPercentage": test,
    }


def train_request_parse(body: dict[str, Any]) -> dict[str, Any]:
    """The validated job parameters of a ``:train`` body (azure-api.md §3.4)."""
    label = body.get("modelLabel")
    if (
        not isinstance(label, str)
        or not MODEL_LABEL_RE.match(label)
        or dots_only_error(label, what="Model") is not None
    ):
        raise InvalidArgument(
            "modelLabel is required: 1 to 50 letters, digits, '_', '.' or '-', not "
            f"dots only (got {echo(label)}).",
            target="modelLabel",
        )
    mode = body.get("trainingMode")
    if mode not in TRAINING_MODES:
        raise InvalidArgument(
            f"trainingMode is required and must be one of {', '.join(TRAINING_MODES)} "
            f"(got {echo(mode)}).",
            target="trainingMode",
        )
    version = body.get("trainingConfigVersion") or "latest"
    known = [v for v, _ in TRAINING_CONFIG_VERSIONS]
    if version == "latest":
        version = _latest_config_version()
    elif version not in known:
        raise InvalidArgument(
            f"trainingConfigVersion {version!r} is not supported; use latest or one "
            f"of {', '.join(known)}.",
            target="trainingConfigVersion",
        )
    return {
        "modelLabel": label,
        "trainingMode": mode,
        "trainingConfigVersion": version,
        "evaluationOptions": _evaluation_options(body.get("evaluationOptions")),
    }


def _data_generation_requested(raw: Any) -> bool:
    """Whether ``dataGenerationSettings`` (api-versions from 2024-11-15-preview) ask
    for synthetic utterances. The studio has no language model to write them, so a
    request for them is accepted and reported as ignored (``DATA_GENERATION_IGNORED``)
    rather than refused: the SDK samples send it and training works without it."""
    if raw is None:
        return False
    if not isinstance(raw, dict):
        raise InvalidArgument(
            "dataGenerationSettings must be an object with enableDataGeneration.",
            target="dataGenerationSettings",
        )
    enabled = raw.get("enableDataGeneration", False)
    if not isinstance(enabled, bool):
        raise InvalidArgument(
            "dataGenerationSettings.enableDataGeneration must be true or false "
            f"(got {echo(enabled)}).",
            target="dataGenerationSettings.enableDataGeneration",
        )
    return enabled


DATA_GENERATION_IGNORED = {
    "code": "DataGenerationNotSupported",
    "message": "Data generation is not available in this studio: "
    "dataGenerationSettings was ignored and the model is trained on the project's "
    "own utterances only.",
}


def _active_training_job(project_name: str) -> Job | None:
    return (
        Job.objects.filter(
            project_name=project_name, kind=Job.Kind.TRAIN, status__in=Job.ACTIVE
        )
        .order_by("created_at")
        .first()
    )


def _check_model_limit(project: Project, label: str) -> None:
    models = TrainedModel.objects.filter(project=project)
    if models.filter(label=label).exists():
        return
    count = models.count()
    if count >= MAX_TRAINED_MODELS_PER_PROJECT:
        raise Conflict(
            f"Project {project.name!r} already has {count} trained models, the "
            f"limit is {MAX_TRAINED_MODELS_PER_PROJECT}; delete a model or retrain an "
            "existing label.",
            target="modelLabel",
        )


def project_encoder_name(project: Project) -> str:
    """The sentence encoder advanced training uses for ``project``: its
    ``encoder`` setting, else the default for its language."""
    return project.encoder or default_encoder_name(project.language)


def train_start(*, project: Project, body: dict[str, Any], actor: Actor = None) -> Job:
    """Validate a ``:train`` request and queue its job.

    409 while another training job of the project is queued or running (the early
    check names it; the ``one_active_train_per_project`` constraint closes the race)
    and when a new label would exceed the model limit. ``actor`` (who asks; None:
    a resource key) must be able to read every linked project; the job records
    them (``params["owner_id"]``) and checks again when it runs.
    """
    if project.kind not in CLU_KINDS:
        raise InvalidArgument(
            f"Project {project.name!r} is a {project.kind} project; only "
            "Conversation and Orchestration projects are trained (knowledge bases "
            "are deployed directly).",
            target="projectKind",
        )
    params = train_request_parse(body)
    if params["trainingMode"] == "advanced":
        # Azure's "advanced" is "advanced with the project's sentence encoder":
        # chosen now, so the job uses the encoder the request was made with.
        params["encoder"] = project_encoder_name(project)
        try:
            encoder_entry(params["encoder"])
        except AdvancedModeUnavailable as exc:
            raise InvalidArgument(
                f"trainingMode advanced is not available for this project: {exc} "
                "Choose another encoder in the project's settings.encoder.",
                target="trainingMode",
            ) from None
    data_generation = _data_generation_requested(body.get("dataGenerationSettings"))
    training_links_check(project=project, actor=actor)
    params.update(actor_params(actor))
    busy = _active_training_job(project.name)
    if busy is not None:
        raise Conflict(
            f"Project {project.name!r} is already training (job {busy.job_id}); "
            "wait for it to finish or cancel it.",
            target="projectName",
        )
    _check_model_limit(project, params["modelLabel"])
    try:
        return job_create(
            kind=Job.Kind.TRAIN,
            project_name=project.name,
            params=params,
            warnings=[DATA_GENERATION_IGNORED] if data_generation else None,
        )
    except QueueLimitReached:
        raise
    except Conflict:
        raise Conflict(
            f"Project {project.name!r} is already training; wait for that job to "
            "finish or cancel it.",
            target="projectName",
        ) from None


# ---------------------------------------------------------------- job status


def _phase_status(job: Job, *, start: int, share: int, done: int) -> tuple[int, str]:
    """(percentComplete, status) of one phase given the job's overall progress."""
    percent = job.percent_complete
    if job.status == Job.Status.SUCCEEDED or percent >= done:
        return 100, "succeeded"
    within = max(0, min(100, round((percent - start) * 100 / share)))
    # A job cancelled while queued never started any phase.
    started = job.started_at is not None and (percent > start or start == 0)
    if job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
        if not started:
            return within, "notStarted"
        return within, job.status
    if not started:
        return 0, "notStarted"
    return within, "running"


def _data_generation_status(job: Job) -> dict[str, Any]:
    """The ``dataGenerationStatus`` phase: the studio generates no data, so the phase
    is done the moment training starts (``notStarted`` until then)."""
    if job.started_at is None:
        return {"percentComplete": 0, "status": "notStarted"}
    started = iso(job.started_at)
    return {
        "percentComplete": 100,
        "startDateTime": started,
        "endDateTime": started,
        "status": "succeeded",
    }


def training_job_result(job: Job, *, data_generation: bool = False) -> dict[str, Any]:
    """Azure's ``TrainingJobState.result`` for a training job, at any stage;
    ``data_generation`` adds the ``dataGenerationStatus`` newer api-versions have."""
    params = job.params
    times = job.result.get("times", {}) if isinstance(job.result, dict) else {}
    train_pct, train_status = _phase_status(
        job, start=0, share=TRAINING_SHARE, done=TRAINING_SHARE
    )
    eval_pct, eval_status = _phase_status(
        job,
        start=TRAINING_SHARE,
        share=EVALUATION_SHARE,
        done=TRAINING_SHARE + EVALUATION_SHARE,
    )
    training: dict[str, Any] = {
        "percentComplete": train_pct,
        "startDateTime": iso(job.started_at),
        "status": train_status,
    }
    if "trainingEnded" in times:
        training["endDateTime"] = times["trainingEnded"]
    elif job.is_finished and job.started_at is not None:
        training["endDateTime"] = iso(job.finished_at)
    evaluation: dict[str, Any] = {
        "percentComplete": eval_pct,
        "status": eval_status,
    }
    if "trainingEnded" in times:
        evaluation["startDateTime"] = times["trainingEnded"]
        if "evaluationEnded" in times:
            evaluation["endDateTime"] = times["evaluationEnded"]
        elif job.is_finished:
            evaluation["endDateTime"] = iso(job.finished_at)
    result: dict[str, Any] = {
        "modelLabel": params.get("modelLabel"),
        "trainingConfigVersion": params.get("trainingConfigVersion"),
        "trainingMode": params.get("trainingMode"),
    }
    estimate = _estimated_end(job)
    if estimate is not None:
        result["estimatedEndDateTime"] = iso(estimate)
    result["trainingStatus"] = training
    result["evaluationStatus"] = evaluation
    if data_generation:
        result["dataGenerationStatus"] = _data_generation_status(job)
    return result


def training_stage_note(job: Job) -> str:
    """The stage of a running training job and an honest estimate of the time left
    (elapsed time extrapolated from the progress, as ``estimatedEndDateTime``), in
    plain language for the studio; "" when the job is not running."""
    if job.status != Job.Status.RUNNING:
        return ""
    percent = job.percent_complete
    if percent < _LOAD_DONE:
        stage = "loading and splitting the data"
    elif percent < TRAINING_SHARE:
        stage = "training"
    elif percent < TRAINING_SHARE + EVALUATION_SHARE:
        stage = "evaluating"
    else:
        stage = "saving the model"
    estimate = _estimated_end(job)
    # Below the loading stage the extrapolation is noise: say so instead.
    if estimate is None or percent < _LOAD_DONE:
        return f"Stage: {stage}. Estimating the time left..."
    left = max(0, round((estimate - timezone.now()).total_seconds()))
    return f"Stage: {stage}. About {_duration_text(left)} left."


def _duration_text(seconds: int) -> str:
    if seconds < 60:
        return f"{max(seconds, 1)} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _estimated_end(job: Job) -> datetime | None:
    """When the job should end, from the rates measured so far.

    Phases run at very different speeds (the entity fit can take 30 times as long
    as the intent fit), so one rate for the whole job is wrong both ways. Inside a
    phase that reports its progress (``result["phase"]``), the rest of the phase
    goes at the rate measured since it began, and what follows it at the rate of
    the work before it; otherwise the whole job's rate is used.
    """
    if job.is_finished:
        return job.finished_at
    percent = job.percent_complete
    if job.started_at is None or percent <= 0:
        return None
    now = timezone.now()
    elapsed = (now - job.started_at).total_seconds()
    phase = job.result.get("phase") if isinstance(job.result, dict) else None
    if isinstance(phase, dict):
        began = parse_datetime(str(phase.get("startedAt", "")))
        start, end = float(phase.get("start", 0)), float(phase.get("end", 0))
        if began is not None and start > 0 and start < percent <= end:
            before = max(0.0, (began - job.started_at).total_seconds())
            inside = max(1e-3, (now - began).total_seconds())
            remaining = (end - percent) * inside / (percent - start) + (
                100 - end
            ) * before / start
            return now + timedelta(seconds=remaining)
    return job.started_at + timedelta(seconds=elapsed * 100 / max(percent, 1))


# ---------------------------------------------------------------- the job


def _model_id(label: str, now: datetime) -> str:
    ticks = _EPOCH_TICKS + int(now.timestamp() * 10_000_000)
    return f"{label}-{ticks}"


def _note_time(context: JobContext, key: str) -> None:
    """Record a phase boundary in the job's result while it runs (for polling)."""
    result = dict(context.job.result or {})
    times = dict(result.get("times", {}))
    times[key] = iso(timezone.now())
    result["times"] = times
    context.job.result = result
    Job.objects.filter(pk=context.job.pk).update(result=result)


def _note_phase(context: JobContext, start: float, end: float) -> None:
    """Record that a phase spanning [start, end] percent begins now, so the
    estimated end can use this phase's own rate (``_estimated_end``)."""
    result = dict(context.job.result or {})
    result["phase"] = {"start": start, "end": end, "startedAt": iso(timezone.now())}
    context.job.result = result
    Job.objects.filter(pk=context.job.pk).update(result=result)


def _progress_between(
    context: JobContext, start: float, end: float
) -> Callable[[float], None]:
    """A fraction callback for the engine, mapped onto [start, end] percent; it also
    stops the job when a cancel was requested. The CRF reports every iteration, so
    the cancel check (a query) runs at most every ``CANCEL_CHECK_SECONDS``."""
    last_check = [float("-inf")]
    began = [False]

    def report(fraction: float) -> None:
        if not began[0]:
            began[0] = True
            _note_phase(context, start, end)
        now = time.monotonic()
        if now - last_check[0] >= CANCEL_CHECK_SECONDS:
            last_check[0] = now
            context.raise_if_cancelled()
        context.progress(start + (end - start) * max(0.0, min(1.0, fraction)))

    return report


class _ParallelProgress:
    """Progress of parts that run at the same time (intents in the worker, entities
    in a child process), as one fraction of the training phase.

    The phase ends when its slowest part does, so its fraction is the elapsed time
    over the elapsed time plus the longest time left, each part's time left
    extrapolated from its own rate. Parts' costs differ by orders of magnitude (the
    entity fit can take 30 times the intent fit) and depend on the data, so fixed
    weights would be wrong both ways; measured rates are not, and a fraction linear
    in time keeps the estimated end honest. ``report`` passes the result to the
    job's callback, which also stops the job on a cancel."""

    def __init__(self, parts: list[str], report: Callable[[float], None]) -> None:
        self._fractions = dict.fromkeys(parts, 0.0)
        self._report = report
        self._began = time.monotonic()
        self._overall = 0.0

    def part(self, name: str) -> Callable[[float], None]:
        return lambda fraction: self.update(name, fraction)

    def update(self, name: str, fraction: float) -> None:
        self._fractions[name] = max(self._fractions[name], min(1.0, fraction))
        elapsed = max(1e-6, time.monotonic() - self._began)
        left = [elapsed * (1 - f) / f for f in self._fractions.values() if 0 < f < 1]
        if all(f >= 1 for f in self._fractions.values()):
            overall = 1.0
        elif left:
            # Never 1 before every part is done.
            overall = min(0.99, elapsed / (elapsed + max(left)))
        else:
            # Nothing to extrapolate from yet (a part has not reported).
            overall = self._overall
        # Progress never goes back: a slower part found late holds it instead.
        self._overall = max(self._overall, overall)
        self._report(self._overall)


def _static_vectors_for(language: str) -> tuple[StaticVectors | None, str]:
    """Standard mode's static word vector table for a project in ``language``,
    or None and why (the model's details say it). A missing table is built in
    the background of this worker, never waited for: this training goes on with
    TF-IDF alone and the next one uses it."""
    if primary_language(language) not in STATIC_LANGUAGES:
        return None, (
            "Static word vectors exist for "
            f"{', '.join(STATIC_LANGUAGES)} projects only; intents use the word "
            "features alone."
        )
    if static_dir() is None:
        return None, "Static word vectors are turned off on this server."
    try:
        table_path()  # the vocabulary (wordfreq) must be there to build one
    except StaticVectorsUnavailable as exc:
        return None, f"{exc} Intents use the word features alone."
    table = available_table()
    if table is not None:
        return table, ""
    build_in_background()
    return None, (
        "The static word vector table was not built yet (it is being built now); "
        "intents use the word features alone. Train again in a few minutes to "
        "use it."
    )


def _fit(
    context: JobContext, data: TrainingData, train: list[int], labels: list[str]
) -> tuple[IntentClassifier | None, str | None, EntityExtractor | None]:
    """Fit the intents here and, at the same time, the entities in a child process
    (``training.engine.child``: the CRF holds the GIL, so in this process it would
    neither run in parallel nor let the heartbeat in; a cancel terminates it)."""
    params = context.params
    mode = params["trainingMode"]
    encoder = params.get("encoder") or default_encoder_name(data.language)
    if mode == "advanced":
        try:
            load_encoder(encoder)
        except AdvancedModeUnavailable as exc:
            raise InvalidArgument(
                f"trainingMode advanced is not available on this server: {exc}",
                target="trainingMode",
            ) from None
    records = data.records
    texts = [records[i].text for i in train]
    has_entities = data.kind == Project.Kind.CONVERSATION and (
        bool(data.definitions) or any(records[i].spans for i in train)
    )
    fits_intents = len(labels) >= 2
    parts = (["intents"] if fits_intents else []) + (
        ["entities"] if has_entities else []
    )
    progress = _ParallelProgress(
        parts, _progress_between(context, _LOAD_DONE, TRAINING_SHARE)
    )
    # The table serves standard mode's intents and, in either mode, the word
    # classes of the learned entities.
    static, static_note = (
        _static_vectors_for(data.language)
        if mode == "standard" or has_entities
        else (None, "")
    )
    entity_fit = (
        ChildFit(
            EntityExtractor.fit,
            data.definitions,
            texts,
            [records[i].spans for i in train],
            language=data.language,
            word_classes=None if static is None else vector_classes(static),
        )
        if has_entities
        else None
    )
    if mode != "standard":
        static, static_note = None, ""
    classifier: IntentClassifier | None = None
    single: str | None = None
    extractor: EntityExtractor | None = None
    try:
        if entity_fit is not None:
            entity_fit.start()

        def intent_progress(fraction: float) -> None:
            if entity_fit is not None:
                # Surfaces a definition error at once, not after the intent fit.
                entity_fit.poll()
                progress.update("entities", entity_fit.fraction)
            progress.update("intents", fraction)

        if fits_intents:
            try:
                classifier = IntentClassifier.fit(
                    texts,
                    [records[i].intent for i in train],
                    mode=mode,
                    progress=intent_progress,
                    encoder=encoder if mode == "advanced" else None,
                    static_vectors=static,
                    static_note=static_note,
                )
            except AdvancedModeUnavailable as exc:
                raise InvalidArgument(
                    f"trainingMode advanced is not available on this server: {exc}",
                    target="trainingMode",
                ) from None
            intent_progress(1.0)
        else:
            single = labels[0]
        context.raise_if_cancelled()
        if entity_fit is not None:
            extractor = entity_fit.wait(progress.part("entities"))
    except EntityDefinitionError as exc:
        raise InvalidArgument(
            f"The project's entities cannot be trained: {exc}",
            target="assets.entities",
        ) from None
    finally:
        if entity_fit is not None:
            entity_fit.stop()
    context.progress(TRAINING_SHARE)
    return classifier, single, extractor


def _threshold_evaluation(
    classifier: IntentClassifier,
    project: Project,
    expected: list[str],
    predicted: list[str],
    confidences: list[float],
) -> dict[str, Any]:
    """Beyond Azure's schema (issue 15 item 6): the test set answered as the
    runtime answers it, with the project's confidence threshold alone and with
    per-intent thresholds (whichever the project has on), and each intent's own
    threshold at the project's threshold of the time."""
    threshold = project.confidence_threshold
    own = classifier.intent_thresholds(threshold)
    return {
        "confidenceThreshold": threshold,
        "perIntentThresholds": project.per_intent_thresholds,
        "global": threshold_report(
            expected, predicted, confidences, threshold=threshold
        ),
        "perIntent": threshold_report(
            expected, predicted, confidences, threshold=threshold, per_intent=own
        ),
        # ``None`` answers ``None`` whatever its threshold: not listed.
        "intentThresholds": {
            intent: round(value, 6)
            for intent, value in sorted(own.items())
            if intent != NONE_INTENT
        },
    }


def _evaluate(
    context: JobContext,
    data: TrainingData,
    test: list[int],
    classifier: IntentClassifier | None,
    single: str | None,
    extractor: EntityExtractor | None,
    project: Project,
) -> tuple[dict[str, Any], list[EvaluationResult]]:
    records = data.records
    texts = [records[i].text for i in test]
    if classifier is not None and texts:
        probs = classifier.predict_proba_batch(texts)
        best = probs.argmax(axis=1).tolist()
        predicted = [classifier.labels[k] for k in best]
        confidences = [float(probs[row, k]) for row, k in enumerate(best)]
    else:
        predicted = [single or ""] * len(texts)
        confidences = [1.0] * len(texts)
    context.progress(TRAINING_SHARE + EVALUATION_SHARE * 0.4)
    context.raise_if_cancelled()
    predicted_spans: list[list[Any]] = [[] for _ in texts]
    if extractor is not None:
        moment = timezone.now()
        # Thousands of test utterances take a while: report (and notice a cancel).
        report = _progress_between(
            context,
            TRAINING_SHARE + EVALUATION_SHARE * 0.4,
            TRAINING_SHARE + EVALUATION_SHARE * 0.8,
        )
        for n, index in enumerate(test):
            if n % _EVALUATION_REPORT_EVERY == 0:
                report(n / len(test))
            record = records[index]
            predicted_spans[n] = [
                m.as_span()
                for m in extractor.predict(
                    record.text, language=record.language, reference=moment
                )
            ]
    context.progress(TRAINING_SHARE + EVALUATION_SHARE * 0.8)
    expected = [records[i].intent for i in test]
    intents_eval = evaluate_intents(expected, predicted, labels=data.intents)
    entities_eval = (
        evaluate_entities(
            [records[i].spans for i in test],
            predicted_spans,
            texts=texts,
            labels=data.entity_categories,
        )
        if data.kind == Project.Kind.CONVERSATION and extractor is not None
        else None
    )
    summary = evaluation_summary(
        intents_eval, entities_eval, context.params["evaluationOptions"]
    )
    summary.pop("evaluationOptions", None)
    if classifier is not None and texts:
        # Beyond Azure's schema: how honest the confidences are (issue 15 item 6).
        summary["intentsEvaluation"]["calibration"] = calibration_report(
            confidences,
            [guess == truth for guess, truth in zip(predicted, expected, strict=True)],
        )
        summary["intentsEvaluation"]["thresholds"] = _threshold_evaluation(
            classifier, project, expected, predicted, confidences
        )
    rows = [
        EvaluationResult(
            position=n,
            text=records[index].text,
            language=records[index].language,
            expected_intent=records[index].intent,
            predicted_intent=predicted[n],
            predicted_confidence=confidences[n],
            expected_entities=[
                {"category": s.category, "offset": s.offset, "length": s.length}
                for s in records[index].spans
            ],
            predicted_entities=[
                {"category": s.category, "offset": s.offset, "length": s.length}
                for s in predicted_spans[n]
            ],
            source_project=records[index].source.partition(":")[2],
        )
        for n, index in enumerate(test)
    ]
    context.progress(TRAINING_SHARE + EVALUATION_SHARE)
    return summary, rows


def _snapshot_save(model_id: str, snapshot: dict[str, Any]) -> str:
    content = json.dumps(snapshot, ensure_ascii=False).encode("utf-8")
    return default_storage.save(
        f"{SNAPSHOTS_DIR}/{model_id}.json", ContentFile(content)
    )


def _files_delete(artifact_name: str, snapshot_name: str) -> None:
    artifact_delete_if_unused(artifact_name)
    if (
        snapshot_name
        and not TrainedModel.objects.filter(snapshot_name=snapshot_name).exists()
    ):
        default_storage.delete(snapshot_name)


def _embedding_choice(classifier: IntentClassifier | None) -> dict[str, Any]:
    """Advanced mode's embedding weight and the held-out accuracy of each weight
    tried, and the sentence encoder with its weights' sha256, for the manifest
    (the model page shows them; loading refuses other weights)."""
    if classifier is None or classifier.encoder_spec is None:
        return {}
    spec = classifier.encoder_spec
    encoder = {
        "encoder": {
            "name": spec.name,
            "version": spec.version,
            "sha256": spec.weights_sha256,
        }
    }
    if classifier.weight_selection is None:
        return encoder
    return {
        **encoder,
        "embeddingWeight": classifier.embedding_weight,
        "embeddingWeightSelection": _selection(
            classifier.weight_selection, classifier.selection_log_loss
        ),
    }


def _selection(
    accuracy_of: dict[float, float], log_loss_of: dict[float, float] | None
) -> list[dict[str, Any]]:
    """Each block weight tried, with its held-out accuracy and log-loss (what
    chose it: the lowest log-loss within noise of the most accurate)."""
    out = []
    for weight, accuracy in sorted(accuracy_of.items()):
        item: dict[str, Any] = {"weight": weight, "heldOutAccuracy": accuracy}
        log_loss = (log_loss_of or {}).get(weight)
        if log_loss is not None and math.isfinite(log_loss):
            item["heldOutLogLoss"] = round(log_loss, 4)
        out.append(item)
    return out


def _static_choice(classifier: IntentClassifier | None) -> dict[str, Any]:
    """Standard mode's static word vectors for the manifest: the table (id and
    the file's sha256, which loading checks), the weight chosen and the held-out
    accuracy of each weight tried, or why the model has none."""
    if classifier is None or classifier.mode != "standard":
        return {}
    spec = classifier.static_spec
    if classifier.static_selection is None:
        return {"staticVectors": {"used": False, "note": classifier.static_note}}
    return {
        "staticVectors": {
            "used": spec is not None,
            "tableId": spec.table_id if spec is not None else None,
            "sha256": spec.sha256 if spec is not None else None,
            "weight": classifier.embedding_weight if spec is not None else 0.0,
            "extraWords": len(classifier.static_extra_words),
            "weightSelection": _selection(
                classifier.static_selection, classifier.selection_log_loss
            ),
        }
    }


def train_execute(context: JobContext) -> dict[str, Any]:
    """The training operation of one job (see the module doc); returns the job's
    stored result."""
    job = context.job
    params = context.params
    label = params["modelLabel"]
    started = time.monotonic()
    project = Project.objects.filter(name=job.project_name, kind__in=CLU_KINDS).first()
    if project is None or project.pk != (job.project_id or project.pk):
        # Gone, or a new project that took the name: not the job's project.
        raise NotFound(
            f"Project {job.project_name!r} no longer exists.", target="projectName"
        )
    data = training_data_load(project=project, actor=job_actor(params))
    options = params["evaluationOptions"]
    split = training_data_split(data=data, evaluation_options=options)
    labels = training_data_validate(data=data, split=split, evaluation_options=options)
    context.progress(_LOAD_DONE)
    context.raise_if_cancelled()

    classifier, single, extractor = _fit(context, data, split.train, labels)
    _note_time(context, "trainingEnded")
    context.raise_if_cancelled()

    summary, rows = _evaluate(
        context, data, split.test, classifier, single, extractor, project
    )
    _note_time(context, "evaluationEnded")
    context.raise_if_cancelled()

    now = timezone.now()
    model_id = _model_id(label, now)
    bundle: ConversationBundle | OrchestrationBundle
    if data.kind == Project.Kind.ORCHESTRATION:
        bundle = OrchestrationBundle(
            intents=classifier,
            single_intent=single,
            targets=data.targets,
            language=data.language,
        )
    else:
        bundle = ConversationBundle(
            intents=classifier,
            single_intent=single,
            entities=extractor,
            language=data.language,
        )
    artifact_name, manifest = artifact_save(
        bundle,
        model_id=model_id,
        training_data_hash=data.hash,
        params={
            "projectKind": data.kind,
            "modelLabel": label,
            "trainingMode": params["trainingMode"],
            "trainingConfigVersion": params["trainingConfigVersion"],
            "evaluationOptions": options,
            **_embedding_choice(classifier),
            **_static_choice(classifier),
        },
    )
    snapshot_name = _snapshot_save(model_id, data.snapshot)
    try:
        replaced = _commit_model(
            context,
            project=project,
            model=TrainedModel(
                project=project,
                label=label,
                model_id=model_id,
                training_mode=params["trainingMode"],
                training_config_version=params["trainingConfigVersion"],
                evaluation_options=options,
                artifact_name=artifact_name,
                manifest=manifest,
                snapshot_name=snapshot_name,
                evaluation_summary=summary,
                training_job_id=job.job_id,
                trained_at=now,
                training_duration_seconds=round(time.monotonic() - started),
                expires_on=config_version_expiry(params["trainingConfigVersion"]),
            ),
            rows=rows,
        )
    except BaseException:
        # Nothing references the new files: remove them rather than leave orphans.
        default_storage.delete(artifact_name)
        default_storage.delete(snapshot_name)
        raise
    if replaced is not None:
        _files_delete(*replaced)
    result = dict(job.result or {})
    result.pop("phase", None)
    result["modelId"] = model_id
    return result


def _link_utterances(project: Project, rows: list[EvaluationResult]) -> None:
    """Point each result at the project's utterance it came from (same text and
    intent), so the evaluation screens can fix a label from a result. Results of an
    orchestration's linked projects, or of duplicates already taken, stay unlinked."""
    wanted: dict[tuple[str, str], list[EvaluationResult]] = {}
    for row in rows:
        wanted.setdefault((row.text, row.expected_intent), []).append(row)
    texts = sorted({text for text, _ in wanted})
    for start in range(0, len(texts), 500):
        chunk = texts[start : start + 500]
        found = (
            Utterance.objects.filter(project=project, text__in=chunk)
            .order_by("id")
            .values_list("text", "intent__name", "id")
        )
        for text, intent, pk in found:
            waiting = wanted.get((text, intent))
            if waiting:
                waiting.pop(0).utterance_id = pk


def _commit_model(
    context: JobContext,
    *,
    project: Project,
    model: TrainedModel,
    rows: list[EvaluationResult],
) -> tuple[str, str] | None:
    """Replace the label's model in one transaction; returns the replaced model's
    (artifact, snapshot) names for deletion after commit."""
    with transaction.atomic():
        # The job row first: a cancel (or the sweeper) waits for this commit, and a
        # job no longer running must not write a model.
        status = (
            Job.objects.select_for_update()
            .filter(pk=context.job.pk)
            .values_list("status", flat=True)
            .first()
        )
        if status == Job.Status.CANCELLING:
            raise JobCancelled
        if status != Job.Status.RUNNING:
            raise Conflict(
                f"The training job ended as {status!r} before its model was saved.",
                target="jobId",
            )
        locked = Project.objects.select_for_update().filter(pk=project.pk).first()
        if locked is None:
            raise NotFound(
                f"Project {project.name!r} was deleted during training.",
                target="projectName",
            )
        old = TrainedModel.objects.filter(project=locked, label=model.label).first()
        if old is None:
            _check_model_limit(locked, model.label)
        replaced = (old.artifact_name, old.snapshot_name) if old is not None else None
        if old is not None:
            old.delete()
        model.project = locked
        model.save()
        _link_utterances(locked, rows)
        for row in rows:
            row.model = model
        EvaluationResult.objects.bulk_create(rows, batch_size=BULK_BATCH)
        Project.objects.filter(pk=locked.pk).update(last_trained_at=model.trained_at)
    return replaced


@shared_task(ignore_result=True)
def train_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=train_execute)


# ---------------------------------------------------------------- models


def trained_model_delete(*, model: TrainedModel) -> None:
    """Delete a trained model and its evaluation; its files go after commit unless a
    deployment still serves the artifact (deployments copy the pointer)."""
    names = (model.artifact_name, model.snapshot_name)
    with transaction.atomic():
        model.delete()
        transaction.on_commit(lambda: _files_delete(*names))


def snapshot_read(*, model: TrainedModel) -> dict[str, Any]:
    """The exported assets the model was trained on (offsets in code points)."""
    if not model.snapshot_name:
        raise NotFound(
            f"Trained model {model.label!r} has no snapshot.",
            target="trainedModelLabel",
        )
    try:
        with default_storage.open(model.snapshot_name, "rb") as handle:
            document: dict[str, Any] = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        raise NotFound(
            f"The snapshot of trained model {model.label!r} is missing from storage.",
            target="trainedModelLabel",
        ) from None
    return document


def snapshots_mask_target_secrets() -> int:
    """Mask the HTTP target secrets that snapshots written before masking existed
    hold in plain text (README, "Security"); returns how many were rewritten. A
    masked snapshot loads like a new one: ``:load-snapshot`` keeps the secrets the
    intents store now. Run by ``manage.py rotatesecrets``."""
    rewritten = 0
    models = TrainedModel.objects.exclude(snapshot_name="").filter(
        project__kind=Project.Kind.ORCHESTRATION
    )
    for model in models.only("pk", "label", "snapshot_name"):
        try:
            document = snapshot_read(model=model)
        except NotFound:
            continue
        masked = document_mask_secrets(copy.deepcopy(document))
        if masked == document:
            continue
        content = json.dumps(masked, ensure_ascii=False).encode("utf-8")
        default_storage.delete(model.snapshot_name)
        name = default_storage.save(model.snapshot_name, ContentFile(content))
        if name != model.snapshot_name:
            TrainedModel.objects.filter(pk=model.pk).update(snapshot_name=name)
        rewritten += 1
    return rewritten


def snapshot_document(*, model: TrainedModel, string_index_type: str) -> dict[str, Any]:
    """The model's snapshot as an exported project, offsets in the requested type.
    Target secrets are masked (snapshots written before masking existed hold them)."""
    index_type = parse_index_type(string_index_type)
    document = document_mask_secrets(snapshot_read(model=model))
    stored = parse_index_type(document.get("stringIndexType", SNAPSHOT_INDEX_TYPE))
    if stored is not StringIndexType.UNICODE_CODE_POINT:
        raise InvalidArgument(
            f"The snapshot of {model.label!r} is in {stored}, not code points.",
            target="trainedModelLabel",
        )
    for utterance in document["assets"].get("utterances", []):
        for entity in utterance.get("entities") or ():
            entity["offset"], entity["length"] = from_code_points(
                utterance["text"], entity["offset"], entity["length"], index_type
            )
    document["stringIndexType"] = str(index_type)
    return document


# ---------------------------------------------------------------- load snapshot


def load_snapshot_start(
    *, project: Project, model: TrainedModel, actor: Actor = None
) -> Job:
    """Queue restoring the project's assets from the model's snapshot. The job
    imports the snapshot as ``actor`` (who asks; None: a resource key), so its
    links need the same read access as any import's."""
    if not model.snapshot_name:
        raise InvalidArgument(
            f"Trained model {model.label!r} has no snapshot to load.",
            target="trainedModelLabel",
        )
    return job_create(
        kind=Job.Kind.LOAD_SNAPSHOT,
        project_name=project.name,
        target_name=model.label,
        params={"modelId": model.model_id, **actor_params(actor)},
    )


def load_snapshot_execute(context: JobContext) -> dict[str, Any]:
    """Replace the project's assets with the snapshot, atomically, through the
    import service. The project's current metadata (description, threshold...) is
    kept: a snapshot restores assets, not settings."""
    job = context.job
    model = TrainedModel.objects.filter(
        model_id=job.params["modelId"], project__name=job.project_name
    ).first()
    if model is None:
        raise NotFound(
            f"Trained model {job.target_name!r} was deleted or retrained before its "
            "snapshot could be loaded.",
            target="trainedModelLabel",
        )
    project = model.project
    document = snapshot_read(model=model)
    document["metadata"] = metadata_as_azure(project)
    context.raise_if_cancelled()
    project_services.project_import(
        name=project.name,
        document=document,
        actor=job_actor(job.params),
    )
    return {}


@shared_task(ignore_result=True)
def load_snapshot_task(job_pk: str) -> None:
    job_execute(job_pk=job_pk, operation=load_snapshot_execute)
