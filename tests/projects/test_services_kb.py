"""Knowledge bases: JSON and TSV import/export, QnA update operations, synonyms."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from projects import services
from projects import validators as v
from projects.models import KbSynonymGroup, Project, QnaPair
from studio.errors import Conflict, InvalidArgument
from tests.projects.helpers import clu_project, fails, targets

pytestmark = pytest.mark.django_db

SPEC_IMPORT: dict[str, Any] = {
    "assets": {
        "synonyms": [
            {"alterations": ["wa", "washington", "washington state"]},
            {"alterations": ["U.S", "usa", "united states of america"]},
        ],
        "qnas": [
            {
                "id": 1,
                "answer": "ans1",
                "source": "source1",
                "questions": ["question 1.1", "question 1.2"],
                "metadata": {"k1": "v1", "k2": "v2"},
                "dialog": {
                    "isContextOnly": False,
                    "prompts": [
                        {"displayOrder": 1, "qnaId": 2, "displayText": "prompt 1.1"}
                    ],
                },
            },
            {
                "id": 2,
                "answer": "ans2",
                "source": "source2",
                "questions": ["question 2.1"],
            },
        ],
    }
}


def make_kb(name: str = "kb") -> Project:
    return services.kb_import(
        name=name, document=copy.deepcopy(SPEC_IMPORT), file_format="json"
    )


def test_json_import_creates_kb_with_qnas_and_synonyms() -> None:
    project = make_kb()
    assert project.kind == "QuestionAnswering"
    assert project.language == "en"
    qna = project.qnas.get(qna_id=1)
    assert qna.questions == ["question 1.1", "question 1.2"]
    assert qna.prompts == [{"displayOrder": 1, "displayText": "prompt 1.1", "qnaId": 2}]
    assert [g.alterations for g in KbSynonymGroup.objects.filter(project=project)] == [
        ["wa", "washington", "washington state"],
        ["U.S", "usa", "united states of america"],
    ]


def test_json_export_import_export_is_identical() -> None:
    first = services.kb_export(project=make_kb(), file_format="json")
    assert isinstance(first, dict)
    assert first["assets"]["qnas"][1]["dialog"] == {
        "isContextOnly": False,
        "prompts": [],
    }
    services.kb_import(name="kb2", document=copy.deepcopy(first), file_format="json")
    second = services.kb_export(
        project=Project.objects.get(name="kb2"), file_format="json"
    )
    assert isinstance(second, dict)
    for doc in (first, second):
        doc["metadata"].pop("projectName")
    assert second == first


def test_import_keeps_the_records_last_updated_time() -> None:
    doc = copy.deepcopy(SPEC_IMPORT)
    doc["assets"]["qnas"][0]["lastUpdatedDateTime"] = "2021-05-01T17:21:14Z"
    project = services.kb_import(name="kb", document=doc, file_format="json")
    exported = services.kb_export(project=project, file_format="json")
    assert isinstance(exported, dict)
    assert (
        exported["assets"]["qnas"][0]["lastUpdatedDateTime"] == "2021-05-01T17:21:14Z"
    )


def test_json_import_accepts_pascal_case_top_level_keys() -> None:
    doc = {
        "Metadata": {"Language": "fr"},
        "Assets": copy.deepcopy(SPEC_IMPORT["assets"]),
    }
    project = services.kb_import(name="kb", document=doc, file_format="json")
    assert project.language == "fr"
    assert project.qnas.count() == 2


def test_import_replaces_existing_kb() -> None:
    make_kb()
    doc = {
        "assets": {
            "qnas": [{"id": 7, "answer": "a", "questions": ["q"]}],
            "synonyms": [],
        }
    }
    project = services.kb_import(name="kb", document=doc, file_format="json")
    assert list(project.qnas.values_list("qna_id", flat=True)) == [7]
    assert project.kb_synonyms.count() == 0


def test_import_into_a_conversation_project_is_refused() -> None:
    clu_project("clu")
    with pytest.raises(Conflict):
        make_kb("clu")


@pytest.mark.parametrize(
    ("mutate", "target"),
    [
        (lambda d: d["assets"]["qnas"][0].update(answer=""), "assets.qnas[0].answer"),
        (
            lambda d: d["assets"]["qnas"][0].update(questions=[]),
            "assets.qnas[0].questions",
        ),
        (lambda d: d["assets"]["qnas"][1].update(id=1), "assets.qnas[1].id"),
        (
            lambda d: d["assets"]["qnas"][0].update(source="s" * 301),
            "assets.qnas[0].source",
        ),
        (
            lambda d: d["assets"]["qnas"][0]["dialog"]["prompts"][0].update(qnaId=99),
            "assets.qnas[0].dialog.prompts[0].qnaId",
        ),
        (
            lambda d: d["assets"]["qnas"][0]["dialog"]["prompts"][0].update(
                displayText="x" * 201
            ),
            "assets.qnas[0].dialog.prompts[0].displayText",
        ),
        (
            lambda d: d["assets"]["qnas"][0]["dialog"].update(
                prompts=[
                    {"displayOrder": i, "qnaId": 2, "displayText": str(i)}
                    for i in range(21)
                ]
            ),
            "assets.qnas[0].dialog.prompts",
        ),
        (
            lambda d: d["assets"]["qnas"][0].update(metadata={"k": 3}),
            "assets.qnas[0].metadata.k",
        ),
        (
            lambda d: d["assets"]["synonyms"][0].update(alterations=["solo"]),
            "assets.synonyms[0].alterations",
        ),
        (lambda d: d.update(assets=[]), "assets"),
        (
            lambda d: d["assets"]["qnas"][0].update(lastUpdatedDateTime="yesterday"),
            "assets.qnas[0].lastUpdatedDateTime",
        ),
        (lambda d: d.update(metadata={"language": "??"}), "metadata.language"),
    ],
)
def test_bad_json_import_names_the_item_and_changes_nothing(
    mutate: Any, target: str
) -> None:
    make_kb()
    doc = copy.deepcopy(SPEC_IMPORT)
    mutate(doc)
    error = fails(services.kb_import, name="kb", document=doc, file_format="json")
    assert target in targets(error)


def test_inline_prompt_record_gets_an_id() -> None:
    doc = {
        "assets": {
            "qnas": [
                {
                    "id": 1,
                    "answer": "a",
                    "questions": ["q"],
                    "dialog": {
                        "prompts": [
                            {
                                "displayOrder": 0,
                                "displayText": "more",
                                "qna": {"answer": "b", "questions": ["qb"]},
                            }
                        ]
                    },
                }
            ]
        }
    }
    project = services.kb_import(name="kb", document=doc, file_format="json")
    assert project.qnas.get(qna_id=1).prompts == [
        {"displayOrder": 0, "displayText": "more", "qnaId": 2}
    ]
    assert project.qnas.get(qna_id=2).answer == "b"


# ---------------------------------------------------------------- TSV


@pytest.mark.parametrize(
    ("sample", "pairs"),
    [
        ("SampleQnAs.tsv", 11),
        ("SampleV2QnAs.tsv", 11),
        ("SampleActiveLearning.tsv", 21),
        ("basic-kb.tsv", 16),
    ],
)
def test_qna_tsv_samples_import(shared_data: Path, sample: str, pairs: int) -> None:
    text = (shared_data / "azure-language-samples" / "qna-maker" / sample).read_text(
        encoding="utf-8"
    )
    project = services.kb_import(name="kb", document=text, file_format="tsv")
    assert project.qnas.count() == pairs
    assert all("\\n" not in q.answer for q in project.qnas.all())
    exported = services.kb_export(project=project, file_format="tsv")
    assert isinstance(exported, str)
    again = services.kb_import(name="kb2", document=exported, file_format="tsv")
    assert [
        (q.qna_id, q.questions, q.answer, q.prompts, q.metadata)
        for q in again.qnas.all()
    ] == [
        (q.qna_id, q.questions, q.answer, q.prompts, q.metadata)
        for q in project.qnas.all()
    ]


def test_active_learning_tsv_groups_alternates_and_keeps_prompts(
    shared_data: Path,
) -> None:
    text = (
        shared_data
        / "azure-language-samples"
        / "qna-maker"
        / "SampleActiveLearning.tsv"
    ).read_text(encoding="utf-8")
    project = services.kb_import(name="kb", document=text, file_format="tsv")
    write = project.qnas.get(qna_id=92)
    assert write.questions == ["Write and draw", "draw with your pen"]
    assert [p["qnaId"] for p in write.prompts] == [93, 94]
    suggestions = write.active_learning_suggestions
    assert suggestions[0]["clusterHead"] == "can i draw with surface pen"
    assert suggestions[0]["suggestedQuestions"][0]["autoSuggestedCount"] == 10
    first = project.qnas.get(qna_id=91)
    assert first.prompts[0] == {
        "displayOrder": 0,
        "displayText": "Write and draw",
        "qnaId": 92,
    }


def test_tsv_without_qna_id_groups_rows_by_answer() -> None:
    text = (
        "Question\tAnswer\tSource\tMetadata\n"
        "hi\tHello!\\nWelcome\tchat\tarea:greet|tone:warm\n"
        "hello\tHello!\\nWelcome\tchat\tarea:greet|tone:warm\n"
        "bye\tBye\tchat\t\n"
    )
    project = services.kb_import(name="kb", document=text, file_format="tsv")
    first = project.qnas.get(qna_id=1)
    assert first.questions == ["hi", "hello"]
    assert first.answer == "Hello!\nWelcome"
    assert first.metadata == {"area": "greet", "tone": "warm"}
    assert project.qnas.count() == 2


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("", "line 1"),
        ("Answer\tSource\nx\ty\n", "line 1"),
        ("Question\tAnswer\tColour\nq\ta\tred\n", "line 1"),
        ("Question\tAnswer\nq\n", "line 2"),
        ("Question\tAnswer\tMetadata\nq\ta\tnot-a-pair\n", "line 2"),
        ("Question\tAnswer\tQnaId\nq\ta\tseven\n", "line 2"),
        ("Question\tAnswer\tPrompts\tQnaId\nq\ta\t[{oops\t1\n", "line 2"),
        ("Question\tAnswer\tIsContextOnly\nq\ta\tmaybe\n", "line 2"),
    ],
)
def test_bad_tsv_names_the_line_and_changes_nothing(text: str, target: str) -> None:
    make_kb()
    error = fails(services.kb_import, name="kb", document=text, file_format="tsv")
    assert target in targets(error)


def test_synonyms_tsv_replaces_only_synonyms(shared_data: Path) -> None:
    make_kb()
    text = (
        shared_data / "azure-language-samples" / "qna-maker" / "SampleV2Synonyms.tsv"
    ).read_text(encoding="utf-8")
    project = services.kb_import(name="kb", document=text, file_format="tsv")
    assert [g.alterations for g in project.kb_synonyms.all()] == [
        ["sdk", "software development kit"],
        ["channel", "teams", "skype", "whatsapp"],
    ]
    assert project.qnas.count() == 2
    exported = services.kb_export(
        project=project, file_format="tsv", asset_kind="synonyms"
    )
    assert exported == (
        'Synonyms\n"sdk","software development kit"\n'
        '"channel","teams","skype","whatsapp"\n'
    )


# -------------------------------------------------------- update QnAs / synonyms


def test_qna_operations_add_replace_delete() -> None:
    project = make_kb()
    project.qnas.filter(qna_id=1).update(prompts=[])
    services.kb_qnas_update(
        project=project,
        operations=[
            {"op": "add", "value": {"answer": "new", "questions": ["fresh?"]}},
            {
                "op": "replace",
                "value": {"id": 1, "answer": "changed", "questions": ["q1"]},
            },
            {"op": "delete", "value": {"id": 2}},
        ],
    )
    assert {q.qna_id: q.answer for q in project.qnas.all()} == {1: "changed", 3: "new"}


def test_qna_add_returns_the_added_pair_not_its_inline_prompt_target() -> None:
    project = make_kb()
    record = {
        "answer": "parent",
        "questions": ["parent?"],
        "dialog": {
            "prompts": [
                {
                    "displayOrder": 1,
                    "displayText": "more",
                    "qna": {"answer": "child", "questions": ["child?"]},
                }
            ]
        },
    }
    added = services.kb_qna_add(project=project, record=record)
    assert (added.qna_id, added.answer) == (3, "parent")
    assert added.prompts[0]["qnaId"] == 4
    assert project.qnas.get(qna_id=4).answer == "child"


@pytest.mark.parametrize(
    ("operations", "target"),
    [
        ([], ""),
        ([{"op": "upsert", "value": {}}], "[0].op"),
        (
            [{"op": "replace", "value": {"id": 9, "answer": "a", "questions": ["q"]}}],
            "[0].value.id",
        ),
        ([{"op": "delete", "value": {"id": 9}}], "[0].value.id"),
        (
            [{"op": "add", "value": {"id": 1, "answer": "a", "questions": ["q"]}}],
            "[0].value.id",
        ),
        (
            [{"op": "add", "value": {"answer": "", "questions": ["q"]}}],
            "[0].value.answer",
        ),
        # QnA 1 has a prompt to QnA 2
        ([{"op": "delete", "value": {"id": 2}}], "qnas[1].dialog.prompts"),
    ],
)
def test_bad_qna_operations_change_nothing(operations: list[Any], target: str) -> None:
    project = make_kb()
    error = fails(services.kb_qnas_update, project=project, operations=operations)
    assert target in targets(error)


def test_synonyms_update_replaces_groups() -> None:
    project = make_kb()
    services.kb_synonyms_update(
        project=project, synonyms=[["a", "b"], {"alterations": ["c", "d"]}]
    )
    assert [g.alterations for g in project.kb_synonyms.all()] == [
        ["a", "b"],
        ["c", "d"],
    ]
    error = fails(services.kb_synonyms_update, project=project, synonyms=[["only"]])
    assert error.target == "value[0].alterations"


def test_kb_limits_are_the_documented_ones() -> None:
    assert (v.MAX_PROMPTS_PER_QNA, v.MAX_PROMPT_TEXT_LENGTH) == (20, 200)
    assert (v.MAX_ANSWER_LENGTH, v.MAX_SOURCE_LENGTH, v.MAX_QUESTIONS_PER_QNA) == (
        25_000,
        300,
        100,
    )


def test_kb_export_refuses_conversation_project() -> None:
    project = clu_project("clu")
    with pytest.raises(InvalidArgument):
        services.kb_export(project=project, file_format="json")


def test_qna_pairs_keep_questions_in_order() -> None:
    project = services.kb_import(
        name="kb",
        document={
            "assets": {"qnas": [{"id": 3, "answer": "a", "questions": ["z", "a", "m"]}]}
        },
        file_format="json",
    )
    assert QnaPair.objects.get(project=project).questions == ["z", "a", "m"]
    exported = services.kb_export(project=project, file_format="json")
    assert isinstance(exported, dict)
    assert json.dumps(exported["assets"]["qnas"][0]["questions"]) == '["z", "a", "m"]'
