"""The analyst's whole journey in a real browser, against the live stack (gunicorn, a
real Celery worker, PostgreSQL, Redis) on a fresh database:

sign in; create a Conversation project; add intents, an entity and utterances; label
an entity by selecting text; upload Azure's sample ``clu_utterances.json``; train
with the progress bar reaching 100%; open the evaluation and click a
confusion-matrix cell; deploy; query in the playground. Then a knowledge base (a few
QnA pairs, deployed) and an orchestration project linking both: train, deploy and
query it, routed to each target.

Every screen is saved under var/test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, StudioPage
from tests.conftest import LiveStudio, skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SAMPLE = Path("azure-language-samples") / "CLU" / "clu_utterances.json"
CLU = "JourneyTelco"
KB = "JourneyFaq"
ROUTER = "JourneyRouter"
TRAIN_TIMEOUT_S = 180
FAQ = [
    (
        [
            "What are your store opening hours?",
            "When are the shops open?",
            "store hours on sunday",
        ],
        "Our stores are open 9 to 6, Monday to Saturday.",
    ),
    (
        [
            "How do I return a phone?",
            "Can I send back a handset?",
            "return policy for devices",
        ],
        "Bring it to any store within 30 days with the receipt.",
    ),
    (
        ["Do you ship abroad?", "international delivery", "can you deliver overseas"],
        "We deliver within the country only.",
    ),
]
TROUBLE = [
    "my router keeps dropping the connection",
    "the modem lights are blinking red",
    "my phone will not connect to wifi",
]


def create_user(live_studio: LiveStudio, username: str) -> None:
    """A plain (non-superuser) account: creating a project makes it the admin."""
    code = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={PASSWORD!r})"
    )
    result = live_studio.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr


def create_project(studio: StudioPage, name: str, kind_label: str) -> None:
    page = studio.page
    studio.goto("/projects/new")
    page.get_by_label(kind_label).check()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(f"**/projects/{name}/")


def train(studio: StudioPage, project: str, label: str) -> list[int]:
    """Start training from the Train screen and follow the progress bar (updated by
    htmx polling, no reload) to 100%; returns the percentages seen."""
    page = studio.page
    studio.goto(f"/projects/{project}/train/")
    page.evaluate("window.__noReload = true")
    page.locator("#id_model_label").fill(label)
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-progress", has_text=label).wait_for()
    studio.screenshot(f"{project}-train-started")
    seen: list[int] = []
    deadline = time.monotonic() + TRAIN_TIMEOUT_S
    while time.monotonic() < deadline:
        text = page.locator("#train-progress-value").inner_text().strip()
        value = int(text.rstrip("%"))
        if not seen or seen[-1] != value:
            seen.append(value)
        status = page.locator("#train-progress [data-status]").get_attribute(
            "data-status"
        )
        if status in ("failed", "cancelled"):
            raise AssertionError(
                f"training {status}: {page.locator('#train-progress').inner_text()}"
            )
        if value == 100 and status == "succeeded":
            break
        page.wait_for_timeout(150)
    else:
        raise AssertionError(f"training did not finish; progress seen {seen}")
    assert page.locator("#train-progress-bar").get_attribute("value") == "100"
    assert page.evaluate("window.__noReload") is True  # polled, never reloaded
    assert seen == sorted(seen)
    page.locator("#train-history-table", has_text=label).wait_for()
    studio.screenshot(f"{project}-train-done")
    return seen


def deploy(studio: StudioPage, project: str, label: str | None) -> None:
    page = studio.page
    studio.goto(f"/projects/{project}/deployments/")
    if label is not None:
        page.locator("#deploy-model").select_option(label)
    page.locator("#deploy-name").fill("production")
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.locator("#deployment-production").wait_for(timeout=60_000)
    page.locator("#deploy-progress [data-status=succeeded]").wait_for()
    studio.screenshot(f"{project}-deployed")


def ask(studio: StudioPage, project: str, text: str) -> str:
    page = studio.page
    if f"/projects/{project}/playground/" not in page.url:
        studio.goto(f"/projects/{project}/playground/")
    page.locator("#playground-text").fill(text)
    page.get_by_role("button", name="Send").click()
    page.locator("#playground-result", has_text=text).wait_for()
    raw = page.locator("#raw-json").inner_text()
    assert '"answers"' in raw or f'"query": "{text}"' in raw
    return page.locator("#playground-result").inner_text()


def current_intent(live_studio: LiveStudio, text: str) -> str:
    rows = live_studio.database_query(
        "SELECT i.name FROM projects_utterance u "
        "JOIN projects_intent i ON i.id = u.intent_id "
        "JOIN projects_project p ON p.id = u.project_id "
        "WHERE p.name = %s AND u.text = %s",
        (CLU, text),
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


def test_analyst_journey(
    live_studio: LiveStudio,
    new_browser_page: Callable[[str], StudioPage],
    shared_data: Path,
) -> None:
    sample = shared_data / SAMPLE
    if not sample.is_file():
        skip_or_fail(f"{sample} is absent")
    create_user(live_studio, "journey")
    studio = new_browser_page(live_studio.url)
    page = studio.page

    # --- sign in, create the Conversation project --------------------------------
    studio.goto("/")
    studio.screenshot("sign-in")
    studio.sign_in("journey")
    create_project(studio, CLU, "Conversation (intents and entities)")
    studio.screenshot("clu-overview")

    # --- schema: intents and an entity --------------------------------------------
    studio.goto(f"/projects/{CLU}/schema/")
    for intent in ("TroubleshootDevice", "Greeting"):
        page.locator("#intent-add-name").fill(intent)
        page.locator("#intent-add-name").press("Enter")
        page.locator("#intent-table", has_text=intent).wait_for()
    # Let the intent swaps settle first: a late swap re-renders the page's forms and
    # would drop a name typed into the old entity form.
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    page.locator("#entity-add-name").fill("Device")
    page.wait_for_timeout(100)
    if page.locator("#entity-add-name").input_value() != "Device":
        page.locator("#entity-add-name").fill("Device")
    page.get_by_role("button", name="Add entity").click()
    page.get_by_role("link", name="Device", exact=True).wait_for()
    studio.screenshot("clu-schema")

    # --- data: utterances, an entity labeled by selection, the sample file ----------
    studio.goto(f"/projects/{CLU}/data/")
    page.wait_for_function("() => window.Labeling !== undefined")
    for intent, lines in (
        ("Greeting", ["hello there", "good morning", "hi, how are you"]),
        ("TroubleshootDevice", TROUBLE),
    ):
        page.select_option("#add-lines select[name=intent]", intent)
        page.fill("#add-lines textarea", "\n".join(lines))
        page.locator("#add-lines button[type=submit]").click()
        page.locator("#add-lines .message--success").wait_for()
        page.locator("#utterance-table", has_text=lines[-1]).wait_for()
    rows = live_studio.database_query(
        "SELECT u.id FROM projects_utterance u JOIN projects_project p "
        "ON p.id = u.project_id WHERE p.name = %s AND u.text = %s",
        (CLU, TROUBLE[0]),
    )
    utterance_id = rows[0][0]
    text = page.locator(f"#utterance-{utterance_id} .utt-text")
    page.evaluate(
        """(el) => {
            const node = el.firstChild;
            const start = node.data.indexOf("router");
            window.getSelection().setBaseAndExtent(node, start, node, start + 6);
        }""",
        text.element_handle(),
    )
    text.dispatch_event("mouseup")
    picker = page.locator("#entity-picker")
    picker.wait_for(state="visible")
    picker.locator("[data-entity=Device]").click()
    spans: list[Any] = []
    for _ in range(100):
        spans = live_studio.database_query(
            'SELECT s."offset", s.length FROM projects_entityspan s '
            "WHERE s.utterance_id = %s",
            (utterance_id,),
        )
        if spans:
            break
        page.wait_for_timeout(100)
    assert spans == [(3, 6)]
    studio.screenshot("clu-entity-labeled")

    page.set_input_files("#upload input[type=file]", str(sample))
    page.locator("#upload button[type=submit]").click()
    page.locator("#upload-result").wait_for()
    assert "Added 50 utterances." in page.locator("#upload-result").inner_text()
    studio.screenshot("clu-uploaded")

    # --- train, evaluation, a confusion-matrix cell --------------------------------
    seen = train(studio, CLU, "model1")
    assert seen[-1] == 100
    page.get_by_role("link", name="Open the evaluation of model1").click()
    page.wait_for_url(f"**/projects/{CLU}/models/model1/")
    page.evaluate("window.__noReload = true")
    studio.screenshot("clu-evaluation")
    cell = page.locator(
        '#confusion-matrix a[data-expected="CheckBill"][data-predicted="CheckBill"]'
    )
    count = cell.inner_text().strip()
    cell.click()
    page.locator(
        "#cell-title", has_text="Labeled CheckBill, predicted CheckBill"
    ).wait_for()
    listed = page.locator("#cell-utterances tbody tr").count()
    assert listed == int(count)
    # Fix a label from the cell (and put it back): the utterance itself changes.
    first = page.locator("#cell-table tbody tr").first
    fixed_text = first.locator("td").first.inner_text().strip()
    first.locator("select").select_option("SpeakToAgent")
    first.get_by_role("button", name="Relabel").click()
    page.locator("#cell-utterances .message--success").wait_for()
    now = page.locator("#cell-table tbody tr").first.locator(".label-now")
    assert now.inner_text().strip() == "SpeakToAgent"
    assert current_intent(live_studio, fixed_text) == "SpeakToAgent"
    first = page.locator("#cell-table tbody tr").first
    first.locator("select").select_option("CheckBill")
    first.get_by_role("button", name="Relabel").click()
    page.locator("#cell-table tbody tr").first.locator(
        ".label-now", has_text="CheckBill"
    ).wait_for()
    assert current_intent(live_studio, fixed_text) == "CheckBill"
    page.get_by_role("link", name="Normalized (% of row)").click()
    page.locator("#confusion-matrix", has_text="%").wait_for()
    assert page.evaluate("window.__noReload") is True
    studio.screenshot("clu-matrix-cell")

    # --- deploy and query ------------------------------------------------------------
    deploy(studio, CLU, "model1")
    result = ask(studio, CLU, "my router is not working again")
    assert re.search(r"Top intent:\s*\w+", result)
    top = page.locator("#top-intent").inner_text()
    assert top in {
        "TroubleshootDevice",
        "ReportOutage",
        "CheckBill",
        "UpgradePlan",
        "SpeakToAgent",
        "Greeting",
    }
    assert page.locator(".bar").count() >= 6  # a bar for every intent
    studio.screenshot("clu-playground")

    # --- a knowledge base with a few pairs, deployed ---------------------------
    create_project(studio, KB, "Question answering (knowledge base)")
    studio.goto(f"/projects/{KB}/kb/")
    for number, (questions, answer) in enumerate(FAQ, start=1):
        if not page.locator("details#qna-add").evaluate("el => el.open"):
            page.locator("details#qna-add summary").click()
        page.locator("#qna-add-questions").fill("\n".join(questions))
        page.locator("#qna-add-answer").fill(answer)
        page.get_by_role("button", name="Add QnA").click()
        page.locator(f"#qna-{number}", has_text=answer[:20]).wait_for()
    studio.screenshot("kb-pairs")
    deploy(studio, KB, None)
    answers = ask(studio, KB, "when are the stores open?")
    assert "9 to 6" in answers
    studio.screenshot("kb-playground")

    # --- an orchestration project linking both ---------------------------------
    create_project(studio, ROUTER, "Orchestration (routes to other projects)")
    studio.goto(f"/projects/{ROUTER}/orchestration/")
    page.locator(f"#task-check-{CLU}").check()
    # The linked project's deployments are offered as a list (it has one by now).
    page.locator(f"#deployment-{CLU}").select_option("production")
    page.locator(f"#task-check-{KB}").check()
    page.get_by_role("button", name="Link selected tasks").click()
    page.locator(f"#task-{CLU}", has_text=f"as {CLU}").wait_for()
    page.locator(f"#task-{KB}", has_text=f"as {KB}").wait_for()
    studio.screenshot("router-linked")
    train(studio, ROUTER, "router1")
    studio.goto(f"/projects/{ROUTER}/models/router1/")
    studio.screenshot("router-evaluation")
    deploy(studio, ROUTER, "router1")

    routed = ask(studio, ROUTER, "How much do I owe this month?")
    assert page.locator("#top-intent").inner_text() == CLU, routed
    assert f"Routed to {CLU}" in routed
    assert page.locator("#target-top-intent").inner_text() == "CheckBill"
    studio.screenshot("router-playground-clu")
    routed = ask(studio, ROUTER, "What are your store opening hours?")
    assert page.locator("#top-intent").inner_text() == KB, routed
    assert "Our stores are open 9 to 6" in routed
    studio.screenshot("router-playground-kb")
