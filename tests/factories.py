"""factory_boy factories for the authoring models (shared by every test package).

Factories write rows directly; tests of validation go through ``projects.services``.
``ProjectFactory`` makes a Conversation project with its built-in ``None`` intent,
as ``project_create_or_update`` does.
"""

from __future__ import annotations

from typing import Any

import factory

from projects.models import (
    Entity,
    EntitySpan,
    Intent,
    KbSynonymGroup,
    Project,
    QnaPair,
    Utterance,
)
from training.models import PredictionLog


class ProjectFactory(factory.django.DjangoModelFactory[Project]):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"project-{n}")
    kind = Project.Kind.CONVERSATION
    language = "en-us"

    @factory.post_generation
    # factory_boy passes the built object as the first argument.
    def none_intent(obj: Project, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and obj.kind != Project.Kind.QUESTION_ANSWERING:
            Intent.objects.get_or_create(project=obj, name=Intent.BUILTIN_NONE)


class OrchestrationProjectFactory(ProjectFactory):
    kind = Project.Kind.ORCHESTRATION


class KbProjectFactory(ProjectFactory):
    kind = Project.Kind.QUESTION_ANSWERING
    language = "en"


class IntentFactory(factory.django.DjangoModelFactory[Intent]):
    class Meta:
        model = Intent

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Intent{n}")


class EntityFactory(factory.django.DjangoModelFactory[Entity]):
    class Meta:
        model = Entity

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Entity{n}")


class UtteranceFactory(factory.django.DjangoModelFactory[Utterance]):
    class Meta:
        model = Utterance

    project = factory.SubFactory(ProjectFactory)
    intent = factory.SubFactory(
        IntentFactory, project=factory.SelfAttribute("..project")
    )
    text = factory.Sequence(lambda n: f"utterance number {n}")


class EntitySpanFactory(factory.django.DjangoModelFactory[EntitySpan]):
    class Meta:
        model = EntitySpan

    utterance = factory.SubFactory(UtteranceFactory)
    entity = factory.SubFactory(
        EntityFactory, project=factory.SelfAttribute("..utterance.project")
    )
    offset = 0
    length = 1


class QnaPairFactory(factory.django.DjangoModelFactory[QnaPair]):
    class Meta:
        model = QnaPair

    project = factory.SubFactory(KbProjectFactory)
    qna_id = factory.Sequence(lambda n: n + 1)
    questions = factory.LazyAttribute(lambda o: [f"question {o.qna_id}"])
    answer = factory.LazyAttribute(lambda o: f"answer {o.qna_id}")


class KbSynonymGroupFactory(factory.django.DjangoModelFactory[KbSynonymGroup]):
    class Meta:
        model = KbSynonymGroup

    project = factory.SubFactory(KbProjectFactory)
    position = factory.Sequence(lambda n: n)
    alterations = factory.LazyFunction(lambda: ["wa", "washington"])


# Words of CLINC150-like intent names (banking, travel, home, ...): 150 distinct
# snake_case names such as ``transfer_card`` or ``balance_flight``.
_SCALE_WORDS = [
    "balance",
    "transfer",
    "card",
    "flight",
    "hotel",
    "recipe",
    "taxes",
    "alarm",
    "timer",
    "weather",
    "payday",
    "insurance",
    "reminder",
    "account",
    "pin",
]


def scale_intent_names(count: int = 150) -> list[str]:
    """``count`` distinct intent names made of two words each (``taxes_alarm``)."""
    names = [f"{a}_{b}" for a in _SCALE_WORDS for b in _SCALE_WORDS if a != b]
    return names[:count]


def scale_project(
    *, name: str = "clinc", intents: int = 150, utterances: int = 15_000
) -> Project:
    """A Conversation project at real size (CLINC150: 150 intents, 15,000
    utterances), written with ``bulk_create`` of factory-built rows: seconds, no
    training. Utterance ``n`` reads "please <words of its intent> number n" and is
    labeled with intent ``n % intents`` (intent 0 is the first named one, not None)."""
    project = ProjectFactory.create(name=name)
    built = Intent.objects.bulk_create(
        [
            IntentFactory.build(project=project, name=n)
            for n in scale_intent_names(intents)
        ]
    )
    rows = [
        UtteranceFactory.build(
            project=project,
            intent=built[n % len(built)],
            text=f"please {built[n % len(built)].name.replace('_', ' ')} number {n}",
            dataset=("Train", "Test", None)[n // len(built) % 3],
        )
        for n in range(utterances)
    ]
    Utterance.objects.bulk_create(rows, batch_size=2000)
    return project


class PredictionLogFactory(factory.django.DjangoModelFactory[PredictionLog]):
    """A logged query waiting for review; ``top_intent`` and ``confidence`` also
    make its stored prediction (the intent first, ``None`` with the rest)."""

    class Meta:
        model = PredictionLog

    project = factory.SubFactory(ProjectFactory)
    deployment_name = "production"
    model_id = "model-1"
    query = factory.Sequence(lambda n: f"query {n}")
    top_intent = "None"
    confidence = 0.5
    prediction = factory.LazyAttribute(
        lambda o: {
            "topIntent": o.top_intent,
            "projectKind": "Conversation",
            "intents": [
                {"category": o.top_intent, "confidenceScore": o.confidence},
                *(
                    [{"category": "None", "confidenceScore": 1 - o.confidence}]
                    if o.top_intent != "None"
                    else []
                ),
            ],
            "entities": [],
        }
    )
