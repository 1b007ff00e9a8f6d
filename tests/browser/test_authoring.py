"""The schema, orchestration and knowledge-base screens in a real browser: every
change goes through htmx without a page reload, errors appear next to their field
with what was typed kept, and the keyboard shortcuts work. Screenshots of each screen
go to var/test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from projects.models import Entity, Intent, Project, QnaPair
from tests.browser.conftest import StudioPage
from tests.factories import (
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
    QnaPairFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def mark_page(page: Any) -> None:
    """A marker that a full page load would wipe: proves a change was htmx."""
    page.evaluate("window.__noReload = true")


def still_same_page(page: Any) -> bool:
    return bool(page.evaluate("window.__noReload === true"))


def test_schema_intents_and_entity_components(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    project = ProjectFactory.create(name="Travel")
    browser_user("ana", role="analyst", project=project)
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Travel/schema/")
    mark_page(page)

    # n focuses the new-intent field; add two intents without reloading.
    page.keyboard.press("n")
    page.keyboard.type("BookFlight")
    page.keyboard.press("Enter")
    page.locator("#intent-table", has_text="BookFlight").wait_for()
    assert page.evaluate("document.activeElement.id") == "intent-add-name"
    page.keyboard.type("Bad/Name")
    page.keyboard.press("Enter")
    error = page.locator("#intent-add-name-error")
    error.wait_for()
    assert "forbidden character" in error.inner_text()
    assert page.locator("#intent-add-name").input_value() == "Bad/Name"
    browser_page.screenshot("intent-error")

    # Inline rename, then delete with the confirmation in the row.
    intent = Intent.objects.get(project=project, name="BookFlight")
    row = page.locator(f"#intent-{intent.pk}")
    row.get_by_role("link", name="Rename intent BookFlight").click()
    page.locator(f"#intent-{intent.pk}-name").fill("BookTrip")
    page.locator(f"#intent-{intent.pk}").get_by_role("button", name="Save").click()
    page.locator(f"#intent-{intent.pk}", has_text="BookTrip").wait_for()
    page.locator(f"#intent-{intent.pk}").get_by_role("link", name="Delete").click()
    page.get_by_text("It has no utterances").wait_for()
    browser_page.screenshot("intent-delete-confirm")
    page.get_by_role("button", name="Delete BookTrip").click()
    page.locator(f"#intent-{intent.pk}").wait_for(state="detached")
    assert still_same_page(page)
    assert not Intent.objects.filter(pk=intent.pk).exists()

    # An entity and its components.
    page.locator("#entity-add-name").fill("City")
    page.get_by_role("button", name="Add entity").click()
    page.get_by_role("link", name="City", exact=True).click()
    page.wait_for_url("**/schema/entities/*/")
    mark_page(page)
    page.locator("#list-key").fill("Paris")
    page.locator("#list-synonyms").fill("Paris\nCity of Light")
    page.get_by_role("button", name="Add list key").click()
    page.locator("#entity-list", has_text="City of Light").wait_for()
    page.locator("#regex-key").fill("code")
    page.locator("#regex-pattern").fill("([A-Z]{3}")
    page.get_by_role("button", name="Add expression").click()
    page.locator("#regex-pattern-error").wait_for()
    assert "does not compile" in page.locator("#regex-pattern-error").inner_text()
    assert page.locator("#regex-pattern").input_value() == "([A-Z]{3}"
    page.locator("#regex-pattern").fill("[A-Z]{3}")
    page.get_by_role("button", name="Add expression").click()
    page.locator("#entity-regex code", has_text="[A-Z]{3}").wait_for()
    page.locator("#prebuilt-category").select_option("DateTime")
    page.get_by_role("button", name="Add prebuilt").click()
    page.locator("#entity-prebuilts li", has_text="DateTime").wait_for()
    browser_page.screenshot("entity")
    assert still_same_page(page)
    entity = Entity.objects.get(project=project, name="City")
    assert entity.list_sublists[0]["listKey"] == "Paris"
    assert entity.regex_expressions[0]["regexPattern"] == "[A-Z]{3}"
    assert entity.prebuilts == ["DateTime"]


def test_orchestration_links_tasks_and_external_targets(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    router = OrchestrationProjectFactory.create(name="Router")
    clu = ProjectFactory.create(name="Travel")
    kb = KbProjectFactory.create(name="Faq")
    # An admin: external (HTTP/LUIS) targets are for project admins; linking tasks
    # is open to analysts too (tests/ui/test_orchestration*.py).
    user = browser_user("ana", role="admin", project=router)
    for target in (clu, kb):
        target.memberships.create(user=user, role="viewer")
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Router/orchestration/")
    mark_page(page)
    assert "not deployed yet" in page.locator("#task-Travel").inner_text()
    browser_page.screenshot("tasks")

    # Both tasks at once; the Conversation link has no deployment: an error on its
    # row, nothing linked, what was typed kept.
    page.locator("#task-check-Travel").check()
    page.locator("#task-check-Faq").check()
    page.locator("#intent-Faq").fill("Questions")
    page.get_by_role("button", name="Link selected tasks").click()
    page.locator("#deployment-Travel-error").wait_for()
    assert page.locator("#intent-Faq").input_value() == "Questions"
    assert page.locator("#task-check-Faq").is_checked()
    assert not Intent.objects.filter(project=router, name="Questions").exists()
    page.locator("#deployment-Travel").fill("production")
    page.get_by_role("button", name="Link selected tasks").click()
    page.locator("#task-Faq", has_text="as Questions").wait_for()
    assert "Linked" in page.locator("#task-Travel").inner_text()
    browser_page.screenshot("linked")

    # An external HTTP target.
    page.locator("#orch-add-name").fill("Weather")
    page.locator("#orch-add-kind").select_option("Http")
    page.locator("#orch-add-url").fill("https://weather.test/predict")
    page.get_by_role("button", name="Add intent").click()
    page.locator("#orch-intent-table", has_text="weather.test").wait_for()

    # Unlink keeps the intent as a routing intent.
    travel = Intent.objects.get(project=router, name="Travel")
    row = f"#orch-intent-{travel.pk}"
    page.locator(row).get_by_role("button", name="Unlink").click()
    page.locator(row, has_text="routing intent").wait_for()
    assert still_same_page(page)
    travel.refresh_from_db()
    assert not travel.is_linked
    assert Project.objects.get(name="Router").intents.filter(name="Weather").exists()


def test_knowledge_base_add_edit_search_delete(
    browser_page: StudioPage, browser_user: Callable[..., Any]
) -> None:
    kb = KbProjectFactory.create(name="Faq")
    QnaPairFactory.create(
        project=kb, qna_id=1, questions=["Opening hours?"], answer="9 to 5."
    )
    browser_user("ana", role="analyst", project=kb)
    page = browser_page.page
    browser_page.sign_in("ana")
    browser_page.goto("/projects/Faq/kb/")
    mark_page(page)

    page.keyboard.press("n")  # opens the add form on its first field
    page.keyboard.type("How do I reset my password?\nforgot password")
    page.locator("#qna-add-answer").fill("")
    page.get_by_role("button", name="Add QnA").click()
    page.locator("#qna-add-answer-error").wait_for()
    assert "forgot password" in page.locator("#qna-add-questions").input_value()
    page.locator("#qna-add-answer").fill("Open Settings.\nChoose Reset.")
    page.locator("#qna-add-meta-key-1").fill("area")
    page.locator("#qna-add-meta-value-1").fill("account")
    page.locator("#qna-add-prompt-text-1").fill("Opening hours")
    page.locator("#qna-add-prompt-target-1").fill("#1")
    page.get_by_role("button", name="Add QnA").click()
    page.locator("#qna-2", has_text="Choose Reset.").wait_for()  # rendered Markdown
    browser_page.screenshot("kb")

    page.locator("#qna-1").get_by_role("link", name="Edit QnA 1").click()
    page.locator("#qna-1-answer").fill("9 to 6, Monday to Friday.")
    page.locator("#qna-1").get_by_role("button", name="Save").click()
    page.locator("#qna-1", has_text="9 to 6").wait_for()

    page.keyboard.press("/")
    page.keyboard.type("forgot")
    page.locator("#qna-1").wait_for(state="detached")
    assert page.locator("#qna-2").is_visible()
    assert "q=forgot" in page.url
    browser_page.screenshot("search")

    page.locator("#qna-2").get_by_role("link", name="Delete QnA 2").click()
    page.get_by_role("button", name="Delete QnA 2").click()
    page.locator("#qna-2").wait_for(state="detached")
    assert still_same_page(page)
    assert list(QnaPair.objects.values_list("qna_id", flat=True)) == [1]
    assert QnaPair.objects.get(qna_id=1).answer == "9 to 6, Monday to Friday."
