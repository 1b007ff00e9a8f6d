"""The authoring data model for the three project kinds.

Rules that fit in SQL are constraints here; everything with a helpful message (limits
per project, spans inside the text, regex that compiles) is checked by the services
through ``projects.validators`` before anything is written. Offsets are code points.
See ``projects/README.md`` for the choices that are not obvious.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Lower
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from projects import validators as v
from studio import vocabulary


class Project(models.Model):
    class Kind(models.TextChoices):
        CONVERSATION = vocabulary.CONVERSATION
        ORCHESTRATION = vocabulary.ORCHESTRATION
        QUESTION_ANSWERING = vocabulary.QUESTION_ANSWERING

    name = models.CharField(max_length=v.MAX_NAME_LENGTH, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    language = models.CharField(max_length=v.MAX_LANGUAGE_LENGTH)
    multilingual = models.BooleanField(default=False)
    description = models.TextField(blank=True, default="")
    # settings.confidenceThreshold (Conversation and Orchestration).
    confidence_threshold = models.FloatField(default=0.0)
    # settings.defaultAnswer (QuestionAnswering).
    default_answer = models.TextField(blank=True, default="")
    # The dataset the review queue adds accepted queries to (Train or Test).
    review_dataset = models.CharField(max_length=8, default="Train", db_default="Train")
    # The deploy gate (training/services/gate.py): a deploy or swap whose model is
    # worse than the one serving by more than this many accuracy points on the gate
    # set is refused unless an admin overrides it with a reason. None: off (the
    # comparison still runs and is reported).
    gate_max_drop = models.FloatField(null=True, blank=True)
    # The deployments the gate guards (names; they need not exist yet). Empty: all of
    # them. A deploy or swap into any other deployment is not compared: staging may
    # receive a worse model when a better one is promoted into production.
    gate_deployments = models.JSONField(
        default=list, blank=True, db_default=models.Value([], models.JSONField())
    )
    # The sentence encoder of advanced training (a name registered in the engine:
    # the bundled one or STUDIO_ENCODERS); "" is the default for the language.
    encoder = models.CharField(max_length=64, blank=True, default="", db_default="")
    # settings.perIntentThresholds (our extension, Conversation and Orchestration):
    # each intent answers only above its own threshold, derived from the global one
    # by the model (training.engine.intents.intent_thresholds).
    per_intent_thresholds = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Moved by services.project_touch on every change to the project's data.
    last_modified_at = models.DateTimeField(default=timezone.now)
    last_trained_at = models.DateTimeField(null=True, blank=True)
    last_deployed_at = models.DateTimeField(null=True, blank=True)
    # The drift check between studios (formats.conversation.export_stamp): the
    # metadata.lastModifiedDateTime of the export last imported, and the
    # last_modified_at that import gave the project (equal to it while unchanged).
    source_modified_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__regex=v.PROJECT_NAME_RE),
                name="project_name_pattern",
            ),
            # Names are unique ignoring case (they are ASCII, so Lower is
            # validators.name_key): `homeoffice` cannot join `HomeOffice`.
            models.UniqueConstraint(Lower("name"), name="project_unique_name_ci"),
            models.CheckConstraint(
                condition=~Q(name__iexact="global"), name="project_name_not_reserved"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=list(v.PROJECT_KINDS)), name="project_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(confidence_threshold__gte=0.0)
                & Q(confidence_threshold__lte=1.0),
                name="project_confidence_threshold_0_1",
            ),
            models.CheckConstraint(
                condition=Q(language__regex=v.LANGUAGE_RE.pattern),
                name="project_language_bcp47",
            ),
            models.CheckConstraint(
                condition=Q(review_dataset__in=["Train", "Test"]),
                name="project_review_dataset_valid",
            ),
            models.CheckConstraint(
                condition=Q(gate_max_drop__isnull=True)
                | Q(gate_max_drop__gte=0.0, gate_max_drop__lte=100.0),
                name="project_gate_max_drop_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class NameKeyField(models.TextField):
    """``validators.name_key`` of the model's ``name``, recomputed whenever the row is
    written: ``save()`` and ``bulk_create`` both call ``pre_save``, so no caller can
    forget it. A unique constraint on ``(project, name_key)`` makes look-alike
    names (``Book``, ``book``, fullwidth ``Ｂｏｏｋ``) one name in the database too.
    (``QuerySet.update(name=...)`` would bypass it; renames go through ``save()``.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = v.name_key(model_instance.name)  # type: ignore[attr-defined]
        setattr(model_instance, self.attname, value)
        return value


class TextKeyField(models.CharField):
    """``validators.text_key_digest`` of the utterance's ``text``, recomputed
    whenever the row is written: ``save()`` (with ``text`` among ``update_fields``, see
    ``Utterance.save``) and ``bulk_create`` call ``pre_save``, and
    ``UtteranceQuerySet.update(text=...)`` sets it beside the text. The duplicate
    filters group by it in SQL instead of normalizing every text in Python."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        kwargs.setdefault("max_length", 32)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = v.text_key_digest(model_instance.text)  # type: ignore[attr-defined]
        setattr(model_instance, self.attname, value)
        return value


class Intent(models.Model):
    class TargetKind(models.TextChoices):
        NON_LINKED = "", "NonLinked"
        CONVERSATION = "Conversation"
        QUESTION_ANSWERING = "QuestionAnswering"
        LUIS = "Luis"
        HTTP = "Http", "External HTTP endpoint"

    BUILTIN_NONE = "None"

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="intents"
    )
    name = models.CharField(max_length=v.MAX_NAME_LENGTH)
    name_key = NameKeyField()
    # Orchestration link. Studio projects are referenced by name, as Azure does: the
    # target may not exist yet (selectors.intent_link_target resolves it).
    target_kind = models.CharField(
        max_length=32, choices=TargetKind.choices, blank=True, default=""
    )
    target_project_name = models.CharField(max_length=100, blank=True, default="")
    target_deployment_name = models.CharField(max_length=100, blank=True, default="")
    luis_app_id = models.CharField(max_length=100, blank=True, default="")
    luis_app_version = models.CharField(max_length=100, blank=True, default="")
    luis_slot_name = models.CharField(max_length=100, blank=True, default="")
    http_url = models.URLField(max_length=2000, blank=True, default="")
    # Header name -> value encrypted with studio.crypto ("fernet:..."): header values
    # and the key are secrets, write-only (projects/services/targets.py).
    http_headers = models.JSONField(default=dict, blank=True)
    # Sent as Ocp-Apim-Subscription-Key to the external endpoint when set; encrypted
    # like the header values (a token is longer than the 255 characters allowed).
    http_key = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Optimistic concurrency (the API's ETag): moves on every change of the intent.
    version = models.PositiveIntegerField(default=1)
    # The Data screen's key (1-9) that assigns this intent, pinned by an analyst
    # (studio-only; not in exports). Unpinned keys keep the default: None and the
    # first eight intents.
    label_key = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        # Insertion order is the export order, so export -> import -> export is stable.
        ordering = ["project_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "label_key"],
                condition=Q(label_key__isnull=False),
                name="intent_unique_label_key",
            ),
            models.CheckConstraint(
                condition=Q(label_key__isnull=True)
                | Q(label_key__gte=1, label_key__lte=9),
                name="intent_label_key_1_to_9",
            ),
            models.UniqueConstraint(
                fields=["project", "name"], name="intent_unique_name_per_project"
            ),
            models.UniqueConstraint(
                fields=["project", "name_key"], name="intent_unique_name_key"
            ),
            models.CheckConstraint(
                condition=Q(name__regex=v.LABEL_NAME_RE), name="intent_name_pattern"
            ),
            models.CheckConstraint(
                condition=Q(target_kind__in=["", *v.TARGET_KINDS]),
                name="intent_target_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.name == self.BUILTIN_NONE

    @property
    def is_linked(self) -> bool:
        return self.target_kind != self.TargetKind.NON_LINKED


class Entity(models.Model):
    class CompositionSetting(models.TextChoices):
        RETURN_LONGEST_OVERLAP = "returnLongestOverlap"
        REQUIRE_EXACT_OVERLAP = "requireExactOverlap"
        SEPARATE_COMPONENTS = "separateComponents"
        COMBINE_COMPONENTS = "combineComponents"

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="entities"
    )
    name = models.CharField(max_length=v.MAX_NAME_LENGTH)
    name_key = NameKeyField()
    composition_setting = models.CharField(
        max_length=32,
        choices=CompositionSetting.choices,
        default=CompositionSetting.COMBINE_COMPONENTS,
    )
    # Azure's list component, normalized:
    # [{"listKey": str, "synonyms": [{"language": str, "values": [str]}]}].
    # Read whole by the engine and the editor, never queried inside: JSON fits.
    list_sublists = models.JSONField(default=list, blank=True)
    # Prebuilt categories, in the author's order: ["Number", "DateTime", ...].
    prebuilts = models.JSONField(default=list, blank=True)
    # [{"regexKey": str, "language": str, "regexPattern": str}]
    regex_expressions = models.JSONField(default=list, blank=True)
    # Subset of validators.ENTITY_COMPONENTS.
    required_components = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Optimistic concurrency (the API's ETag): moves on every change of the entity.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["project_id", "id"]
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="entity_unique_name_per_project"
            ),
            models.UniqueConstraint(
                fields=["project", "name_key"], name="entity_unique_name_key"
            ),
            models.CheckConstraint(
                condition=Q(name__regex=v.LABEL_NAME_RE), name="entity_name_pattern"
            ),
            models.CheckConstraint(
                condition=Q(composition_setting__in=list(v.COMPOSITION_SETTINGS)),
                name="entity_composition_setting_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def synonym_count(self) -> int:
        return sum(
            len(s.get("values", []))
            for sub in self.list_sublists
            for s in sub.get("synonyms", [])
        )


class UtteranceQuerySet(models.QuerySet["Utterance"]):
    def update(self, **kwargs: Any) -> int:
        # A plain text (undo restores one) keeps its key in step; an expression
        # cannot be normalized here, so it is refused rather than left stale.
        if "text" in kwargs and "text_key" not in kwargs:
            if not isinstance(kwargs["text"], str):
                raise TypeError("Utterance text updates must be plain strings.")
            kwargs["text_key"] = v.text_key_digest(kwargs["text"])
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        fields = list(fields)
        if "text" in fields and "text_key" not in fields:
            objs = list(objs)
            for obj in objs:
                obj.text_key = v.text_key_digest(obj.text)
            fields.append("text_key")
        return super().bulk_update(objs, fields, batch_size=batch_size)


class Utterance(models.Model):
    class Dataset(models.TextChoices):
        TRAIN = "Train"
        TEST = "Test"

    # Deletes cascade in the database (DB_CASCADE), not in Python: removing a project
    # or an intent with 50,000 utterances is one statement instead of loading every
    # row into Django's deletion collector.
    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="utterances"
    )
    text = models.CharField(max_length=v.MAX_UTTERANCE_LENGTH)
    # The text as the duplicate checks compare it (see TextKeyField).
    text_key = TextKeyField()
    intent = models.ForeignKey(
        Intent, on_delete=models.DB_CASCADE, related_name="utterances"
    )
    # Empty means "the project's language" (Azure omits it then; we export it as given).
    language = models.CharField(
        max_length=v.MAX_LANGUAGE_LENGTH, blank=True, default=""
    )
    # None = unassigned: part of the training pool, split at train time.
    dataset = models.CharField(
        max_length=8, choices=Dataset.choices, null=True, blank=True, default=None
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    # Optimistic concurrency: moves on every write that changes what the utterance
    # looks like (its fields, its spans, the name of its intent or of an entity it
    # labels). The API's ETag and the labeling screen's row forms carry it; a write
    # that names an older version is refused instead of overwriting.
    version = models.PositiveIntegerField(default=1)
    # Who labeled it last (intent or entities, in the studio or the API): a user
    # (signed in, or the owner of a personal key) or a resource key. Both empty:
    # unknown (imported, or labeled before this was recorded). The database sets
    # ``labeled_by`` to NULL when the user row is deleted.
    labeled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="+",
    )
    labeled_by_key = models.ForeignKey(
        "studio.ApiKey",
        null=True,
        blank=True,
        # Keys are revoked, not deleted. No database constraint and no Python
        # on_delete: Utterance may mix neither (models.E050), and ApiKey's own
        # reference to its creator is Python-level (fields.E323). A key deleted in
        # the admin leaves its id, shown as a deleted key.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Marked by an analyst as part of the deploy gate's "golden" set: checked by
    # every deploy as it reads now (text and intent), whatever its dataset.
    golden = models.BooleanField(default=False, db_default=False)

    objects = UtteranceQuerySet.as_manager()

    class Meta:
        ordering = ["project_id", "id"]
        indexes = [
            # The labeling screen pages by id within a project, optionally filtered.
            models.Index(fields=["project", "intent", "id"], name="utt_project_intent"),
            models.Index(
                fields=["project", "dataset", "id"], name="utt_project_dataset"
            ),
            models.Index(fields=["project", "text"], name="utt_project_text"),
            # The "same text" filters: GROUP BY text_key with the intents, from
            # the index alone.
            models.Index(
                fields=["project", "text_key", "intent"], name="utt_project_text_key"
            ),
            models.Index(
                fields=["project", "labeled_by", "id"], name="utt_project_labeler"
            ),
            models.Index(
                fields=["project", "labeled_by_key", "id"],
                name="utt_project_labeler_key",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    GreaterThanOrEqual(Length("text"), 1),
                    LessThanOrEqual(Length("text"), v.MAX_UTTERANCE_LENGTH),
                ),
                name="utterance_text_length_1_500",
            ),
            models.CheckConstraint(
                condition=Q(dataset__isnull=True) | Q(dataset__in=list(v.DATASETS)),
                name="utterance_dataset_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if fields is not None and "text" in fields and "text_key" not in fields:
            kwargs["update_fields"] = [*fields, "text_key"]
        super().save(*args, **kwargs)

    @property
    def effective_language(self) -> str:
        return self.language or self.project.language


class EntitySpan(models.Model):
    """One labeled entity in an utterance. A table, not JSON, so that renaming or
    deleting an entity needs no rewrite of 50,000 rows and "has entities" is an
    indexed EXISTS (see projects/README.md)."""

    utterance = models.ForeignKey(
        Utterance, on_delete=models.DB_CASCADE, related_name="spans"
    )
    entity = models.ForeignKey(
        Entity, on_delete=models.DB_CASCADE, related_name="spans"
    )
    offset = models.PositiveIntegerField()
    length = models.PositiveIntegerField()

    class Meta:
        ordering = ["utterance_id", "id"]
        indexes = [models.Index(fields=["entity", "utterance"], name="span_entity")]
        constraints = [
            models.CheckConstraint(
                condition=Q(length__gte=1), name="span_length_min_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_id}@{self.offset}+{self.length}"

    @property
    def end(self) -> int:
        return self.offset + self.length


class PinnedEvaluationSet(models.Model):
    """The Test set of a project as it was when someone pinned it: one half of the
    deploy gate's set (the other is the golden utterances). A copy, not references:
    later edits of the data do not move the yardstick. Pinning again replaces it
    (the audit trail keeps who pinned what when)."""

    project = models.OneToOneField(
        Project, on_delete=models.DB_CASCADE, related_name="pinned_evaluation_set"
    )
    # [{"text", "intent", "language"?}] in the Test set's id order.
    items = models.JSONField(default=list)
    pinned_at = models.DateTimeField(default=timezone.now)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DB_SET_NULL,
        related_name="+",
    )
    # Who pinned it as shown ("alice", "API key ci (abc…)"): users and keys go away.
    pinned_by_name = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.project_id}: {len(self.items)} pinned at {self.pinned_at}"

    @property
    def count(self) -> int:
        return len(self.items)


class QnaPair(models.Model):
    """A knowledge-base record: ``qna_id`` is the Azure ``id`` (unique per KB)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="qnas")
    qna_id = models.PositiveIntegerField()
    # Alternates, in order; the first is the one shown as the pair's title.
    questions = models.JSONField(default=list)
    answer = models.TextField()
    source = models.CharField(max_length=v.MAX_SOURCE_LENGTH, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    is_context_only = models.BooleanField(default=False)
    # [{"displayOrder": int, "qnaId": int, "displayText": str}]
    prompts = models.JSONField(default=list, blank=True)
    # Azure's activeLearningSuggestions clusters, kept as given.
    active_learning_suggestions = models.JSONField(default=list, blank=True)
    last_updated_at = models.DateTimeField(default=timezone.now)
    # Optimistic concurrency (the v1 API's ETag): moves on every change of the pair.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["project_id", "qna_id"]
        verbose_name = "QnA pair"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "qna_id"], name="qna_unique_id_per_project"
            ),
            models.CheckConstraint(condition=Q(qna_id__gte=1), name="qna_id_positive"),
        ]

    def __str__(self) -> str:
        first = self.questions[0] if self.questions else self.answer
        return f"{self.qna_id}: {first[:60]}"


class KbSynonymGroup(models.Model):
    """One group of word alterations of a knowledge base (Azure ``WordAlterations``)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="kb_synonyms"
    )
    position = models.PositiveIntegerField()
    alterations = models.JSONField(default=list)

    class Meta:
        ordering = ["project_id", "position"]
        verbose_name = "KB synonym group"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "position"], name="kb_synonym_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return ", ".join(self.alterations)

    def as_azure(self) -> dict[str, Any]:
        return {"alterations": list(self.alterations)}


class ProjectMembership(models.Model):
    """A user's role in one project. Roles are per project (a user may administer
    one project and only read another); superusers are admins everywhere without a
    row. ``projects.permissions`` is the one place that reads this table."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        ANALYST = "analyst", "Analyst"
        VIEWER = "viewer", "Viewer"

    # Both references cascade in the database: a model may not mix database and
    # Python on_delete variants (models.E050), and Project's children use DB_CASCADE.
    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DB_CASCADE,
        related_name="project_memberships",
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["project_id", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"], name="membership_unique_user_per_project"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "analyst", "viewer"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} is {self.role} of {self.project_id}"


class LabelingUndo(models.Model):
    """One step of a user's undo history in one project: what a labeling-screen
    change replaced (a bulk action, or a single edit of one row), so that the
    labeling screen can put it back (``services.labeling_undo``, newest first).
    Each user keeps the last ``UNDO_LEVELS`` steps per project; an undo removes its
    step. A table, not the session: a bulk action over 50,000 utterances records
    50,000 previous values, which would otherwise be decoded on every request."""

    class Action(models.TextChoices):
        INTENT = "intent", "Assign intent"
        DATASET = "dataset", "Move to dataset"
        DELETE = "delete", "Delete"
        EDIT = "edit", "Edit"

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="labeling_undos"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DB_CASCADE,
        related_name="labeling_undos",
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    # What the user saw: "Assigned intent BookFlight to 120 utterances".
    summary = models.CharField(max_length=300)
    # intent: {"previous": [[utterance id, intent id], ...]}
    # dataset: {"previous": [[utterance id, dataset or null], ...]}
    # delete and edit: {"utterances": [{"id", "text", "intent", "language",
    #          "dataset", "created_at", "updated_at", "version",
    #          "spans": [[entity id, offset, length]]}]} (edit: the row as it was
    #          before a single edit; undo writes it back)
    payload = models.JSONField(default=dict)
    # How many utterances the step holds: the history keeps only a few large ones
    # (``services.labeling.LARGE_STEPS_KEPT``), each may weigh megabytes.
    rows = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project_id", "user_id", "-id"]
        indexes = [
            models.Index(fields=["project", "user", "id"], name="labeling_undo_stack"),
        ]

    def __str__(self) -> str:
        return self.summary


class ReplacedProject(models.Model):
    """What a project held just before an import replaced it: Azure's exported JSON
    in storage (``file``), kept ``STUDIO_REPLACED_PROJECT_RETENTION_DAYS`` and
    listed on the project's page, where an admin restores it (an import of that
    file). Azure's API replaces on import without asking; the API keeps doing so,
    and this copy is the way back. Rows of a deleted project go by cascade (their
    files with the project's); expired ones are purged by the workers' sweep."""

    project = models.ForeignKey(
        Project, on_delete=models.DB_CASCADE, related_name="replaced_snapshots"
    )
    file = models.CharField(max_length=255)
    # What it held, for the list: "4,500 utterances in 12 intents".
    summary = models.CharField(max_length=200)
    replaced_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["project_id", "-replaced_at"]

    def __str__(self) -> str:
        return f"{self.project_id} before {self.replaced_at:%Y-%m-%d %H:%M}"
