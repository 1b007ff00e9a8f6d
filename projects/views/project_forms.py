"""Forms of the projects and settings screens.

Field checks reuse ``projects.validators`` (the API's rules and messages); what only
the services know (a taken name, a bad import file) comes back as a ``StudioError``
that ``StudioForm.add_studio_error`` (``studio/forms.py``) puts next to the field its
``target`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from projects import validators as v
from projects.models import Project, ProjectMembership
from projects.services.studio_projects import IMPORT_FORMATS
from studio.forms import StudioForm
from training.engine.embeddings import default_encoder_name, encoder_entries

KIND_CHOICES = [
    (Project.Kind.CONVERSATION.value, "Conversation (intents and entities)"),
    (Project.Kind.ORCHESTRATION.value, "Orchestration (routes to other projects)"),
    (Project.Kind.QUESTION_ANSWERING.value, "Question answering (knowledge base)"),
]


def _check(problem: str | None) -> None:
    if problem is not None:
        raise forms.ValidationError(problem)


class ProjectSettingsFields(StudioForm):
    language = forms.CharField(
        max_length=v.MAX_LANGUAGE_LENGTH,
        help_text="BCP-47 code of the project's main language, e.g. en-us.",
    )
    description = forms.CharField(
        required=False,
        max_length=v.MAX_DESCRIPTION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    multilingual = forms.BooleanField(
        required=False, help_text="Utterances may be in other languages."
    )
    confidence_threshold = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        label="Confidence threshold",
        help_text="0 to 1. Predictions below it return the None intent "
        "(Conversation and Orchestration projects).",
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    default_answer = forms.CharField(
        required=False,
        max_length=v.MAX_ANSWER_LENGTH,
        label="Default answer",
        help_text="Returned when no answer scores high enough (knowledge bases).",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    targets = {
        "projectName": "name",
        "projectKind": "kind",
        "language": "language",
        "description": "description",
        "multilingual": "multilingual",
        "multilingualResource": "multilingual",
        "settings.confidenceThreshold": "confidence_threshold",
        "settings": "confidence_threshold",
        "settings.defaultAnswer": "default_answer",
    }

    def clean_language(self) -> str:
        language = str(self.cleaned_data["language"]).strip()
        _check(v.language_error(language))
        return language


class ProjectCreateForm(ProjectSettingsFields):
    kind = forms.ChoiceField(choices=KIND_CHOICES, widget=forms.RadioSelect)
    name = forms.CharField(
        max_length=v.MAX_NAME_LENGTH,
        help_text="Letters, digits, '.', '_' and '-'; up to 50 characters.",
    )

    field_order = [
        "kind",
        "name",
        "language",
        "description",
        "multilingual",
        "confidence_threshold",
        "default_answer",
    ]

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        _check(v.project_name_error(name))
        return name


def encoder_choices(language: str) -> list[tuple[str, str]]:
    """The sentence encoders a project in ``language`` may select for advanced
    training, the language's default first ("")."""
    default = default_encoder_name(language)
    choices = [("", f"Default for the project's language ({default})")]
    for entry in encoder_entries():
        if entry.supports(language):
            choices.append((entry.name, f"{entry.name}: {entry.description}"))
    return choices


class ProjectSettingsForm(ProjectSettingsFields):
    review_dataset = forms.ChoiceField(
        required=False,
        label="Reviewed queries go to",
        choices=[("Train", "Train"), ("Test", "Test")],
        help_text="The dataset that queries accepted in the review queue join.",
    )
    encoder = forms.ChoiceField(
        required=False,
        label="Sentence encoder",
        choices=[],
        help_text="The model that turns utterances into vectors in advanced "
        "training. Changing it takes effect at the next training; trained models "
        "keep theirs.",
    )

    per_intent_thresholds = forms.BooleanField(
        required=False,
        label="Per-intent thresholds",
        help_text="Each intent gets its own threshold, worked out from the one above "
        "at training: intents the model is always sure of get a stricter one, "
        "hesitant intents a laxer one, so out-of-scope questions are refused more "
        "evenly. Uses the trained model's own checks, no extra data; the model "
        "page lists each intent's threshold. Off: one threshold for all intents.",
    )

    targets = {
        **ProjectSettingsFields.targets,
        "settings.encoder": "encoder",
        "settings.perIntentThresholds": "per_intent_thresholds",
    }

    @classmethod
    def for_project(
        cls, project: Project, data: Mapping[str, Any] | None = None
    ) -> ProjectSettingsForm:
        initial = {
            "language": project.language,
            "description": project.description,
            "multilingual": project.multilingual,
            "confidence_threshold": project.confidence_threshold,
            "default_answer": project.default_answer,
            "review_dataset": project.review_dataset,
            "encoder": project.encoder,
            "per_intent_thresholds": project.per_intent_thresholds,
        }
        form = cls(data=data, initial=initial)
        if project.kind == Project.Kind.QUESTION_ANSWERING:
            del form.fields["confidence_threshold"]
            del form.fields["review_dataset"]
            del form.fields["encoder"]
            del form.fields["per_intent_thresholds"]
        else:
            del form.fields["default_answer"]
            field = form.fields["encoder"]
            assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
            # The typed language when the form comes back, else the stored one.
            language = str((data or {}).get("language") or project.language)
            field.choices = encoder_choices(language)
            if project.encoder and project.encoder not in dict(field.choices):
                # Unregistered since, or for another language: shown, so the
                # form does not silently change it; saving it is refused.
                field.choices = [
                    *field.choices,
                    (project.encoder, f"{project.encoder} (not available)"),
                ]
        return form


class GateSettingsForm(StudioForm):
    max_drop = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=100.0,
        label="Block deploys worse by more than (accuracy points)",
        help_text="Compared with the model serving the deployment, on the pinned "
        "Test set and the golden utterances. Empty: never block (the comparison is "
        "still shown). An admin may deploy a blocked model with a reason.",
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )
    gated_deployments = forms.CharField(
        required=False,
        max_length=600,
        label="Guarded deployments",
        help_text="The deployments the gate protects, separated by commas (for "
        "example: production). Deploys and swaps into other deployments are not "
        "compared or blocked, so promoting a better model from staging into "
        "production is not held up because staging gets the older one. Empty: every "
        "deployment is guarded.",
        widget=forms.TextInput(
            attrs={"placeholder": "production", "spellcheck": "false"}
        ),
    )

    def gated_names(self) -> list[str]:
        """The names typed, split on commas and spaces (the service checks them)."""
        raw = self.cleaned_data.get("gated_deployments") or ""
        return [name for name in raw.replace(",", " ").split() if name]


class ProjectImportForm(StudioForm):
    file_format = forms.ChoiceField(
        label="File format",
        choices=list(IMPORT_FORMATS.items()),
        widget=forms.RadioSelect,
    )
    name = forms.CharField(
        required=False,
        max_length=v.MAX_NAME_LENGTH,
        label="Project name",
        help_text="Leave empty to use the name inside an Azure JSON file. An "
        "existing project you administer is replaced once you confirm.",
    )
    file = forms.FileField(label="File")
    confirm = forms.CharField(
        required=False,
        max_length=v.MAX_NAME_LENGTH,
        label="To replace an existing project, type its name",
        help_text="Only needed when a project of that name exists: the import "
        "replaces all of its content (which stays restorable from its page).",
    )

    targets = {
        "projectName": "name",
        "format": "file_format",
        "file": "file",
        "confirm": "confirm",
    }

    def clean_name(self) -> str:
        name = str(self.cleaned_data.get("name") or "").strip()
        if name:
            _check(v.project_name_error(name))
        return name

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # The API's body limit too; refused before the file is read into memory.
        _check(v.size_error(upload.size))
        return upload


class ProjectDeleteForm(StudioForm):
    confirm = forms.CharField(
        label="Type the project's name to confirm", max_length=v.MAX_NAME_LENGTH
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_confirm(self) -> str:
        value = str(self.cleaned_data["confirm"]).strip()
        if value != self.project.name:
            raise forms.ValidationError(
                f"Type {self.project.name} exactly to delete the project."
            )
        return value


ROLE_CHOICES = ProjectMembership.Role.choices


class MemberAddForm(StudioForm):
    user = forms.CharField(
        label="User name or e-mail", max_length=254, widget=forms.TextInput()
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    targets = {"user": "user", "role": "role"}


class MemberRoleForm(StudioForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES)

    targets = {"role": "role"}
