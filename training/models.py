"""Trained models, deployments and the prediction log (jobs: jobs/models.py).

A TrainedModel is immutable once written: its artifact (bytes in Django storage, named
by ``artifact_name``, checked against ``manifest``) never changes; retraining a label
replaces the row with a new ``model_id`` and a new artifact. A Deployment copies the
pointer (model id, artifact name, manifest) instead of referencing the TrainedModel,
so deleting or retraining a model never changes what a deployment serves. Every change
of a deployment bumps ``studio.models.DeploymentState.version`` in the same
transaction; web processes poll that single row to know when to reload (see
training/README.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models

from projects.models import Project
from training.engine import review as rv


class TrainedModel(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="trained_models"
    )
    label = models.CharField(max_length=50)
    # Azure's "<label>-<ticks>": unique forever, names the artifact.
    model_id = models.CharField(max_length=100, unique=True)
    training_mode = models.CharField(max_length=16)
    training_config_version = models.CharField(max_length=32)
    # {"kind": "percentage", "trainingSplitPercentage": 80, ...} as Azure echoes it.
    evaluation_options = models.JSONField(default=dict)
    # Storage name of the artifact bytes and the manifest load_model checks.
    artifact_name = models.CharField(max_length=255)
    manifest = models.JSONField(default=dict)
    # Storage name of the exported project (assets) the model was trained on, for
    # :load-snapshot and export with trainedModelLabel.
    snapshot_name = models.CharField(max_length=255, blank=True, default="")
    # Azure's EvaluationSummary (azure-api.md §3.6), minus evaluationOptions.
    evaluation_summary = models.JSONField(default=dict)
    training_job_id = models.CharField(max_length=80, blank=True, default="")
    trained_at = models.DateTimeField()
    training_duration_seconds = models.PositiveIntegerField(default=0)
    expires_on = models.DateField()

    class Meta:
        ordering = ["project_id", "-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "label"], name="trained_model_unique_label"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.label} ({self.model_id})"


class EvaluationResult(models.Model):
    """One test utterance of a model's evaluation; offsets are code points."""

    model = models.ForeignKey(
        TrainedModel, on_delete=models.DB_CASCADE, related_name="evaluation_results"
    )
    position = models.PositiveIntegerField()
    # The utterance it came from, when it still exists (no FK: utterances may be
    # edited or deleted after training; the result keeps what was evaluated).
    utterance_id = models.BigIntegerField(null=True, blank=True)
    text = models.TextField()
    language = models.CharField(max_length=32, blank=True, default="")
    expected_intent = models.CharField(max_length=100)
    predicted_intent = models.CharField(max_length=100)
    predicted_confidence = models.FloatField(default=0.0)
    # [{"category", "offset", "length"}]
    expected_entities = models.JSONField(default=list)
    predicted_entities = models.JSONField(default=list)
    # The project an orchestration's linked utterance came from ("" for the
    # model's own): shown only to whoever may read that project.
    source_project = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["model_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "position"], name="evaluation_result_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.text[:40]} ({self.expected_intent} -> {self.predicted_intent})"


class Deployment(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="deployments"
    )
    name = models.CharField(max_length=50)
    # A copy of the deployed model's pointer (see module doc). For question answering
    # projects the "model" is the knowledge base built at deploy time: label "".
    model_label = models.CharField(max_length=50, blank=True, default="")
    model_id = models.CharField(max_length=100)
    artifact_name = models.CharField(max_length=255)
    manifest = models.JSONField(default=dict)
    model_trained_at = models.DateTimeField()
    training_config_version = models.CharField(max_length=32, blank=True, default="")
    deployed_at = models.DateTimeField()
    expires_on = models.DateField()
    # The shadow model (training/README.md, "Shadow deployments"): a pointer copy of
    # a trained model of the same project that predicts every query in the
    # background; only the live model above answers. Empty model id = no shadow.
    shadow_model_label = models.CharField(max_length=50, blank=True, default="")
    shadow_model_id = models.CharField(max_length=100, blank=True, default="")
    shadow_artifact_name = models.CharField(max_length=255, blank=True, default="")
    shadow_manifest = models.JSONField(default=dict, blank=True)
    shadow_set_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="deployment_unique_name"
            ),
            models.CheckConstraint(
                condition=~models.Q(name__iexact="swap"),
                name="deployment_name_not_reserved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.name} -> {self.model_id}"

    @property
    def has_shadow(self) -> bool:
        return bool(self.shadow_model_id)


def review_key(query: str) -> str:
    """The review queue's duplicate key of a logged query (``rv.normalize``, or the
    query itself when nothing is left of it) as stored: a 32-character digest."""
    key = rv.normalize(query) or query
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def review_base_score(log: PredictionLog) -> float:
    """``rv.teach_score`` of a log without the count term (count 1): everything the
    score needs but the group's size is known when the row is written."""
    prediction = log.prediction if isinstance(log.prediction, dict) else {}
    return rv.teach_score(
        rv.signals(
            prediction,
            shadow_intent=log.shadow_top_intent,
            shadow_confidence=log.shadow_confidence,
            shadow_disagrees=log.shadow_disagrees,
        )
    )


def review_recipe_fingerprint() -> str:
    """A digest of what ``review_key`` and ``review_base_score`` — the functions
    that compute the stored ``text_key`` and ``base_score`` — give on fixed probes
    (``rv.PROBE_TEXTS``; ``rv.PROBE_PREDICTIONS`` with and without a shadow's
    disagreement): it moves when a change of the normalisation, the digest, the
    teach score or a weight would leave stored values stale. Each recipe's
    migration declares it (``REVIEW_FINGERPRINT``; see ``rv.RECIPE``)."""
    scores = [
        round(
            review_base_score(
                PredictionLog(
                    prediction=prediction,
                    shadow_top_intent=shadow,
                    shadow_confidence=0.7,
                    shadow_disagrees=bool(shadow),
                )
            ),
            9,
        )
        for prediction in rv.PROBE_PREDICTIONS
        for shadow in ("", "Cancel")
    ]
    found = {"keys": [review_key(text) for text in rv.PROBE_TEXTS], "scores": scores}
    encoded = json.dumps(found, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()


class ReviewKeyField(models.CharField):
    """``review_key`` of the log's ``query``, set whenever the row is written
    (``save()`` and ``bulk_create`` call ``pre_save``): the queue groups by it in
    SQL. "" (the database default) marks a row written by older code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = review_key(model_instance.query)  # type: ignore[attr-defined]
        setattr(model_instance, self.attname, value)
        return value


class BaseScoreField(models.FloatField):
    """``review_base_score`` of the log, set whenever the row is written (its
    prediction and shadow columns are final by then: ``runtime.logs``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> float:
        value = review_base_score(model_instance)  # type: ignore[arg-type]
        setattr(model_instance, self.attname, value)
        return value


class ReviewRecipeField(models.SmallIntegerField):
    """``rv.RECIPE``, the recipe of ``text_key`` and ``base_score``, set whenever
    the row is written: open rows of an older one are refilled
    (``training.services.review_recipe``). 0 (the database default) marks a row
    written by code older than the recipe. Not a PositiveSmallIntegerField: its
    CHECK constraint would make PostgreSQL scan the table under an ACCESS
    EXCLUSIVE lock when the column is added."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> int:
        setattr(model_instance, self.attname, rv.RECIPE)
        return rv.RECIPE


class PredictionLog(models.Model):
    """A query sent with ``isLoggingEnabled: true``: the review queue's material
    (``training/review.py``)."""

    class ReviewStatus(models.TextChoices):
        PENDING = "pending"
        # Became (or relabeled) an utterance: the prediction accepted, another
        # intent picked, or marked out of scope (intent None).
        ACCEPTED = "accepted"
        LABELED = "labeled"
        NONE = "none"
        SKIPPED = "skipped"
        DISCARDED = "discarded"

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="prediction_logs"
    )
    deployment_name = models.CharField(max_length=50)
    model_id = models.CharField(max_length=100)
    query = models.TextField()
    language = models.CharField(max_length=32, blank=True, default="")
    top_intent = models.CharField(max_length=100, blank=True, default="")
    confidence = models.FloatField(default=0.0)
    prediction = models.JSONField(default=dict)
    # Which key asked (its non-secret prefix): keys may be revoked and deleted later.
    api_key_prefix = models.CharField(max_length=12, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="+",
    )
    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    # The utterance the review made of it (its source, seen from the data).
    utterance = models.ForeignKey(
        "projects.Utterance",
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="review_sources",
    )
    # What the deployment's shadow model answered for the same query ("" when the
    # deployment had no shadow, or it was dropped under load: runtime/shadow.py),
    # and whether that disagrees with the live answer (another top intent, or the
    # same one with a confidence gap of STUDIO_SHADOW_CONFIDENCE_GAP or more).
    shadow_model_id = models.CharField(max_length=100, blank=True, default="")
    shadow_top_intent = models.CharField(max_length=100, blank=True, default="")
    shadow_confidence = models.FloatField(null=True, blank=True)
    shadow_disagrees = models.BooleanField(default=False)
    # What the review queue ranks on, stored when the row is written so that SQL
    # groups and orders every pending log (``training.selectors.review``): the
    # normalized query's digest and the log's teach score without the count term,
    # and the number of the recipe that computed them (``rv.RECIPE``). Open rows of
    # an older recipe — or written by code older than the columns: database
    # defaults "", 0, 0 — are refilled by the migration that changes the recipe,
    # the worker's housekeeping and, a bounded batch, each queue read or action
    # (``training.services.review_recipe``).
    text_key = ReviewKeyField(default="", db_default="")
    base_score = BaseScoreField(default=0.0, db_default=0.0)
    review_recipe = ReviewRecipeField(default=0, db_default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "-created_at"]),
            models.Index(
                fields=["project", "review_status", "-created_at"],
                name="predlog_review",
            ),
            models.Index(
                fields=["project", "review_status", "text_key"],
                name="predlog_review_key",
            ),
            models.Index(
                fields=["project", "review_status", "review_recipe"],
                name="predlog_review_recipe",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query[:40]} -> {self.top_intent}"


class ShadowTally(models.Model):
    """How often a deployment's shadow agreed with its live model, per hour: every
    query is counted (logged or not), none is stored here. Written by the runtime's
    shadow worker through ``studio.writebehind`` (counts added, never read back in
    the request); read by the deployment page and the shadow API."""

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="shadow_tallies"
    )
    deployment_name = models.CharField(max_length=50)
    live_model_id = models.CharField(max_length=100)
    shadow_model_id = models.CharField(max_length=100)
    hour = models.DateTimeField()
    # Queries the shadow predicted; of them, same top intent; same top intent but
    # a confidence gap counted as a disagreement; queries dropped (queue full) or
    # that the shadow could not predict (its artifact failed to load).
    compared = models.PositiveIntegerField(default=0)
    agreed = models.PositiveIntegerField(default=0)
    confidence_gaps = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "project",
                    "deployment_name",
                    "live_model_id",
                    "shadow_model_id",
                    "hour",
                ],
                name="shadow_tally_unique_hour",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.deployment_name}: {self.agreed}/{self.compared} agreed "
            f"({self.hour:%Y-%m-%d %H}h)"
        )


class DeploymentResource(models.Model):
    """Another endpoint that speaks this REST API (an Orchestration Studio, or an
    Azure AI Language resource), registered by studio staff so that projects can
    be assigned to it and their deployments copied there (training.resource_jobs).

    ``azure_resource_id`` is the id API clients name it by (Azure's field; any
    string unique here, compared without case). The key is write-only: it is
    stored encrypted (``studio.crypto``) and decrypted only for an outbound call.
    """

    class Kind(models.TextChoices):
        STUDIO = "studio", "Orchestration Studio"
        AZURE = "azure", "Azure AI Language"

    azure_resource_id = models.CharField(max_length=300)
    region = models.CharField(max_length=64)
    endpoint = models.URLField(max_length=500)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STUDIO)
    key_sealed = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DB_SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["azure_resource_id"]
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("azure_resource_id"),
                name="deployment_resource_unique_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.azure_resource_id} ({self.region})"


class ProjectResource(models.Model):
    """A resource assigned to a project (``:assign``): its deployments may be
    copied there."""

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="assigned_resources"
    )
    # The registry refuses to remove an assigned resource (resource_delete); the
    # database cascade is only the backstop.
    resource = models.ForeignKey(
        DeploymentResource, on_delete=models.DB_CASCADE, related_name="assignments"
    )
    custom_domain = models.CharField(max_length=300, blank=True, default="")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "resource_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resource"], name="project_resource_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} -> {self.resource_id}"


class RemoteDeployment(models.Model):
    """One deployment of a project on one assigned resource: the unit of work of a
    copy job and its sync state.

    ``status`` is the last copy's: ``pending`` (asked, waiting for a job),
    ``running`` (a job claimed it: ``job_id``), ``succeeded`` or ``failed``
    (``message``). ``model_id`` is the local model the last copy was asked to
    bring; ``deployed_model_id`` the one it last brought successfully ("" never),
    with ``deployed_at`` and the project's ``last_modified_at`` as it was then
    (``project_modified_at``), so a later change reads "behind".
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    assignment = models.ForeignKey(
        ProjectResource, on_delete=models.DB_CASCADE, related_name="deployments"
    )
    deployment_name = models.CharField(max_length=50)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    model_id = models.CharField(max_length=100, blank=True, default="")
    job_id = models.CharField(max_length=80, blank=True, default="")
    step = models.CharField(max_length=32, blank=True, default="")
    message = models.TextField(blank=True, default="")
    deployed_model_id = models.CharField(max_length=100, blank=True, default="")
    deployed_at = models.DateTimeField(null=True, blank=True)
    project_modified_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["assignment_id", "deployment_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "deployment_name"],
                name="remote_deployment_unique_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_name} on {self.assignment_id} ({self.status})"
