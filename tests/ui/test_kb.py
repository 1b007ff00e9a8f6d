"""Knowledge-base screen: QnA pairs with alternates, multi-line answers, metadata,
follow-up prompts; search and paging; add, inline edit, delete; synonyms. Pages,
htmx fragments, roles, bad input on every form, plain posts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from projects import services
from projects import validators as v
from projects.models import KbSynonymGroup, QnaPair
from tests.factories import QnaPairFactory
from tests.ui.conftest import HTMX, UiProjects

pytestmark = pytest.mark.django_db

BASE = "/projects/kb/kb/"


@pytest.fixture
def pairs(ui_projects: UiProjects) -> list[QnaPair]:
    kb = ui_projects.kb
    return [
        QnaPairFactory.create(
            project=kb,
            qna_id=1,
            questions=["How do I reset my password?", "forgot password"],
            answer="Open Settings.\nChoose Reset.",
            metadata={"area": "account"},
            source="manual.pdf",
            prompts=[{"displayOrder": 0, "qnaId": 2, "displayText": "Still stuck?"}],
        ),
        QnaPairFactory.create(
            project=kb, qna_id=2, questions=["Call support"], answer="Dial 555."
        ),
        QnaPairFactory.create(
            project=kb, qna_id=3, questions=["Où est le café ?"], answer="Au rez."
        ),
    ]


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "questions": "What are the opening hours?\nWhen are you open",
        "answer": "9 to 5.\nClosed on Sundays.",
        "source": "faq.html",
        "meta_key": ["topic", ""],
        "meta_value": ["hours", ""],
        "prompt_text": ["", ""],
        "prompt_target": ["", ""],
        "prompt_answer": ["", ""],
        "prompt_order": ["", ""],
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- reading


def test_page_shows_pairs_with_alternates_metadata_and_prompts(
    viewer_client: Client, pairs: list[QnaPair]
) -> None:
    response = viewer_client.get(BASE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="qna-1"' in html and "forgot password" in html
    # The answer is rendered Markdown: its line break is kept.
    assert "Open Settings.<br>\nChoose Reset." in html
    assert "area: account" in html and "Still stuck?" in html and "manual.pdf" in html
    # Viewers read only; "/" still focuses the search.
    assert 'id="qna-add"' not in html and "Edit</a>" not in html
    assert 'data-shortcut="/"' in html and "js/authoring.js" in html


def test_search_questions_and_answers_with_htmx(
    viewer_client: Client, pairs: list[QnaPair]
) -> None:
    response = viewer_client.get(
        BASE, {"q": "FORGOT"}, HTTP_HX_TARGET="qna-list", **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="qna-list"')
    assert 'id="qna-1"' in html and 'id="qna-2"' not in html
    html = viewer_client.get(BASE, {"q": "dial"}).content.decode()
    assert 'id="qna-2"' in html and 'id="qna-1"' not in html and "<html" in html
    # Non-ASCII text in questions is found too.
    html = viewer_client.get(BASE, {"q": "café"}).content.decode()
    assert 'id="qna-3"' in html and 'id="qna-1"' not in html
    html = viewer_client.get(BASE, {"q": "nothing like this"}).content.decode()
    assert "No pair matches" in html


def test_paging(viewer_client: Client, ui_projects: UiProjects) -> None:
    for i in range(1, 31):
        QnaPairFactory.create(project=ui_projects.kb, qna_id=i)
    html = viewer_client.get(BASE).content.decode()
    assert 'id="qna-25"' in html and 'id="qna-26"' not in html
    assert "page=2" in html
    html = viewer_client.get(BASE, {"page": 2}).content.decode()
    assert 'id="qna-26"' in html and 'id="qna-1"' not in html


def test_access(
    outsider_client: Client,
    viewer_client: Client,
    client: Client,
    pairs: list[QnaPair],
) -> None:
    assert outsider_client.get(BASE).status_code == 404
    assert outsider_client.post(BASE + "qnas/add", form()).status_code == 404
    assert outsider_client.get(BASE + "synonyms/").status_code == 404
    assert viewer_client.post(BASE + "qnas/add", form()).status_code == 403
    assert viewer_client.post(BASE + "qnas/1/edit", form()).status_code == 403
    assert viewer_client.post(BASE + "qnas/1/delete").status_code == 403
    assert viewer_client.get(BASE + "qnas/1/edit").status_code == 403
    assert (
        viewer_client.post(BASE + "synonyms/save", {"synonyms": "a, b"}).status_code
        == 403
    )
    assert viewer_client.get("/projects/conv/kb/").status_code == 404
    anonymous = client.get(BASE)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert QnaPair.objects.count() == 3
    assert not KbSynonymGroup.objects.exists()


def test_missing_pair_is_404(analyst_client: Client, pairs: list[QnaPair]) -> None:
    assert analyst_client.get(BASE + "qnas/99/edit").status_code == 404
    assert analyst_client.get(BASE + "qnas/99/", **HTMX).status_code == 404


# ---------------------------------------------------------------- add


def test_add_with_htmx(analyst_client: Client, ui_projects: UiProjects) -> None:
    response = analyst_client.post(BASE + "qnas/add", form(), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="kb">')
    qna = ui_projects.kb.qnas.get()
    assert qna.questions == ["What are the opening hours?", "When are you open"]
    assert qna.answer == "9 to 5.\nClosed on Sundays."
    assert qna.metadata == {"topic": "hours"} and qna.source == "faq.html"
    assert f'id="qna-{qna.qna_id}"' in html
    # Ready for the next pair: the form is open and empty, the new id is announced.
    assert f"QnA {qna.qna_id} added." in html
    assert '<details class="card" id="qna-add" open>' in html
    assert "What are the opening hours?" not in html.split("</details>")[0]


def test_add_plain_post_redirects(analyst_client: Client, pairs: list[QnaPair]) -> None:
    response = analyst_client.post(
        BASE + "qnas/add",
        form(
            prompt_text=["Call us", ""],
            prompt_target=["#2 Call support", ""],
            prompt_order=["", ""],
            context_only="on",
        ),
    )
    assert response.status_code == 302 and response["Location"] == BASE
    qna = QnaPair.objects.get(qna_id=4)
    assert qna.is_context_only
    assert qna.prompts == [{"displayOrder": 0, "qnaId": 2, "displayText": "Call us"}]


@pytest.mark.parametrize(
    ("overrides", "error_id", "message"),
    [
        ({"questions": "  \n "}, "qna-add-questions-error", "1 to"),
        ({"answer": ""}, "qna-add-answer-error", "answer"),
        ({"answer": "x" * (v.MAX_ANSWER_LENGTH + 1)}, "qna-add-answer-error", "answer"),
        ({"source": "s" * 301}, "qna-add-source-error", "source"),
        (
            {"meta_key": ["topic", "topic"], "meta_value": ["a", "b"]},
            "qna-add-metadata-error",
            "given twice",
        ),
        (
            {"meta_key": ["topic", ""], "meta_value": ["", ""]},
            "qna-add-metadata-error",
            "non-empty",
        ),
        (
            {"prompt_text": ["Go", ""], "prompt_target": ["abc", ""]},
            "qna-add-prompts-error",
            "no pair has the question “abc”",
        ),
        (
            {
                "prompt_text": ["Go", ""],
                "prompt_target": ["#2", ""],
                "prompt_order": ["x", ""],
            },
            "qna-add-prompts-error",
            "whole number",
        ),
        (
            {"prompt_text": ["Go", ""], "prompt_target": ["#999", ""]},
            "qna-add-prompts-error",
            "does not exist",
        ),
        (
            {"prompt_text": ["", ""], "prompt_target": ["#2", ""]},
            "qna-add-prompts-error",
            "The text of prompt 1 must not be empty.",
        ),
    ],
)
def test_add_bad_input_keeps_what_was_typed(
    analyst_client: Client,
    pairs: list[QnaPair],
    overrides: dict[str, Any],
    error_id: str,
    message: str,
) -> None:
    data = form(**overrides)
    for extra in ({}, HTMX):
        response = analyst_client.post(BASE + "qnas/add", data, **extra)
        assert response.status_code == 422
        html = response.content.decode()
        assert f'id="{error_id}"' in html, html[:3000]
        assert message in html
        assert "Closed on Sundays." in html or not data["answer"].startswith("9")
        assert '<details class="card" id="qna-add" open>' in html
    assert QnaPair.objects.count() == 3


def test_too_many_questions(
    analyst_client: Client, ui_projects: UiProjects, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(v, "MAX_QUESTIONS_PER_QNA", 1)
    response = analyst_client.post(BASE + "qnas/add", form(), **HTMX)
    assert response.status_code == 422
    assert 'id="qna-add-questions-error"' in response.content.decode()


# ---------------------------------------------------------------- edit / delete


def test_edit_inline_with_htmx(analyst_client: Client, pairs: list[QnaPair]) -> None:
    response = analyst_client.get(BASE + "qnas/1/edit", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<article class="card" id="qna-1">')
    assert "How do I reset my password?\nforgot password</textarea>" in html
    assert 'value="area"' in html and 'value="account"' in html
    assert 'value="Still stuck?"' in html and 'value="#2 Call support"' in html
    data = form(
        questions="How do I reset my password?\nlost password",
        answer="Use the reset link.",
        meta_key=["area", "level", ""],
        meta_value=["account", "easy", ""],
        prompt_text=["Still stuck?", ""],
        prompt_target=["#2", ""],
        prompt_order=["0", ""],
    )
    response = analyst_client.post(BASE + "qnas/1/edit", data, **HTMX)
    assert response.status_code == 200
    assert "Use the reset link." in response.content.decode()
    qna = QnaPair.objects.get(qna_id=1)
    assert qna.questions == ["How do I reset my password?", "lost password"]
    assert qna.metadata == {"area": "account", "level": "easy"}
    assert qna.source == "faq.html"
    cancel = analyst_client.get(BASE + "qnas/1/", **HTMX).content.decode()
    assert "<form" not in cancel and "lost password" in cancel


def test_edit_plain_page_and_post(analyst_client: Client, pairs: list[QnaPair]) -> None:
    page = analyst_client.get(BASE + "qnas/2/edit")
    assert page.status_code == 200 and "<html" in page.content.decode()
    response = analyst_client.post(BASE + "qnas/2/edit", form(answer="Dial 556."))
    assert response.status_code == 302
    assert QnaPair.objects.get(qna_id=2).answer == "Dial 556."


def test_edit_bad_input_changes_nothing(
    analyst_client: Client, pairs: list[QnaPair]
) -> None:
    response = analyst_client.post(BASE + "qnas/2/edit", form(answer=" "), **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="qna-2-answer-error"' in html
    assert "What are the opening hours?" in html
    assert QnaPair.objects.get(qna_id=2).answer == "Dial 555."
    response = analyst_client.post(BASE + "qnas/2/edit", form(answer=" "))
    assert response.status_code == 422 and "<html" in response.content.decode()


def test_delete_confirm_then_delete(
    analyst_client: Client, pairs: list[QnaPair]
) -> None:
    confirm = analyst_client.get(BASE + "qnas/3/delete", **HTMX)
    assert confirm.status_code == 200 and "Delete QnA 3" in confirm.content.decode()
    assert "<html" in analyst_client.get(BASE + "qnas/3/delete").content.decode()
    response = analyst_client.post(BASE + "qnas/3/delete", **HTMX)
    # The card goes (nothing in its place); only the counts come, out of band.
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<p class="muted" id="kb-count"') and "hx-swap-oob" in html
    assert not QnaPair.objects.filter(qna_id=3).exists()
    response = analyst_client.post(BASE + "qnas/1/delete")
    assert response.status_code == 302
    assert not QnaPair.objects.filter(qna_id=1).exists()


def test_delete_of_a_prompt_target_is_refused(
    analyst_client: Client, pairs: list[QnaPair]
) -> None:
    response = analyst_client.post(BASE + "qnas/2/delete", **HTMX)
    assert response.status_code == 422
    assert "remove the prompt first" in response.content.decode()
    assert QnaPair.objects.filter(qna_id=2).exists()


# ---------------------------------------------------------------- synonyms


def test_synonyms_page_and_save(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    assert analyst_client.get(BASE + "synonyms/").status_code == 200
    response = analyst_client.post(
        BASE + "synonyms/save",
        {"synonyms": "wifi, wi-fi, wireless\n\nlogin,sign in"},
        **HTMX,
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="synonyms-form"')
    groups = [g.alterations for g in ui_projects.kb.kb_synonyms.order_by("position")]
    assert groups == [["wifi", "wi-fi", "wireless"], ["login", "sign in"]]
    response = analyst_client.post(BASE + "synonyms/save", {"synonyms": ""})
    assert response.status_code == 302
    assert not ui_projects.kb.kb_synonyms.exists()


def test_synonyms_bad_input(
    analyst_client: Client, ui_projects: UiProjects, monkeypatch: pytest.MonkeyPatch
) -> None:
    KbSynonymGroup.objects.create(
        project=ui_projects.kb, position=0, alterations=["a", "b"]
    )
    monkeypatch.setattr(v, "MAX_ALTERATIONS_PER_GROUP", 2)
    typed = "one, two, three"
    for extra in ({}, HTMX):
        response = analyst_client.post(
            BASE + "synonyms/save", {"synonyms": typed}, **extra
        )
        assert response.status_code == 422
        html = response.content.decode()
        assert 'id="synonyms-error"' in html and typed in html
    response = analyst_client.post(
        BASE + "synonyms/save", {"synonyms": "alone"}, **HTMX
    )
    assert response.status_code == 422
    assert [g.alterations for g in ui_projects.kb.kb_synonyms.all()] == [["a", "b"]]


# ---------------------------------------------------------------- active learning


@pytest.fixture
def suggested(pairs: list[QnaPair], ui_projects: UiProjects) -> QnaPair:
    services.kb_feedback_add(
        project=ui_projects.kb,
        document={
            "records": [
                {"userId": "u1", "userQuestion": "cannot log in", "qnaId": 1},
                {"userId": "u2", "userQuestion": "Cannot log in", "qnaId": 1},
                {"userId": "u3", "userQuestion": "lost my password", "qnaId": 1},
            ]
        },
    )
    return QnaPair.objects.get(qna_id=1)


def suggestion_questions(qna: QnaPair) -> list[str]:
    qna.refresh_from_db()
    return [
        s["question"]
        for c in qna.active_learning_suggestions
        for s in c["suggestedQuestions"]
    ]


def test_suggestions_are_shown_and_can_be_accepted_or_dismissed(
    analyst_client: Client, suggested: QnaPair
) -> None:
    html = analyst_client.get(BASE).content.decode()
    assert "Suggested questions from users" in html
    assert "cannot log in" in html and "asked 2×" in html
    url = BASE + "qnas/1/suggestions"
    response = analyst_client.post(
        url, {"question": "cannot log in", "action": "accept"}, **HTMX
    )
    assert response.status_code == 200
    assert (
        response.content.decode()
        .lstrip()
        .startswith('<article class="card" id="qna-1"')
    )
    suggested.refresh_from_db()
    assert suggested.questions[-1] == "cannot log in"
    assert suggestion_questions(suggested) == ["lost my password"]
    response = analyst_client.post(
        url, {"question": "lost my password", "action": "dismiss"}
    )
    assert response.status_code == 302
    assert suggestion_questions(suggested) == []
    suggested.refresh_from_db()
    assert "lost my password" not in suggested.questions


def test_suggestion_bad_input(
    analyst_client: Client, viewer_client: Client, suggested: QnaPair
) -> None:
    url = BASE + "qnas/1/suggestions"
    for data in (
        {"question": "never asked", "action": "accept"},
        {"question": "cannot log in", "action": "shrug"},
    ):
        for extra in ({}, HTMX):
            response = analyst_client.post(url, data, **extra)
            assert response.status_code == 422
            assert 'id="qna-1-suggestions-error"' in response.content.decode()
    data = {"question": "cannot log in", "action": "accept"}
    assert viewer_client.post(url, data).status_code == 403
    assert len(suggestion_questions(suggested)) == 2


def test_editing_a_pair_keeps_its_suggestions(
    analyst_client: Client, suggested: QnaPair
) -> None:
    response = analyst_client.post(BASE + "qnas/1/edit", form(), **HTMX)
    assert response.status_code == 200
    assert suggestion_questions(suggested) == ["cannot log in", "lost my password"]
