"""Deployment resources in a real browser: a superuser registers a resource (a
private endpoint first: the error sits next to the field), then assigns it on a
project's Deployments page and sees its state; both pages axe-clean and without a
Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.browser.conftest import PASSWORD, StudioPage
from tests.browser.test_accessibility import violations as axe
from tests.browser.test_csp import RECORD_VIOLATIONS, violations
from tests.factories import ProjectFactory
from tests.training.remote_stub import RemoteStub
from training.models import DeploymentResource, ProjectResource

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def remote(settings: Any) -> Iterator[RemoteStub]:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STUDIO_RESOURCE_POLL_SECONDS = 0
    stub = RemoteStub()
    yield stub
    stub.close()


def test_staff_register_a_resource_and_admins_assign_it(
    new_browser_page: Callable[[str], StudioPage],
    live_server: Any,
    remote: RemoteStub,
) -> None:
    get_user_model().objects.create_superuser(
        username="root", email="root@example.test", password=PASSWORD
    )
    ProjectFactory.create(name="Travel")
    studio = new_browser_page(live_server.url)
    studio.page.context.add_init_script(RECORD_VIOLATIONS)
    studio.sign_in("root")
    page = studio.page

    page.get_by_role("link", name="Resources").click()
    page.wait_for_url("**/resources/")
    page.get_by_label("Resource id").fill("studio-b")
    page.get_by_label("Region").fill("westeurope")
    page.get_by_label("Endpoint URL").fill("http://10.1.2.3:8000")
    page.get_by_label("Key", exact=True).fill(remote.key)
    page.get_by_role("button", name="Register").click()
    error = page.locator("#add-endpoint-error")
    error.wait_for()
    assert "local or private address" in error.inner_text()
    assert not DeploymentResource.objects.exists()

    page.get_by_label("Endpoint URL").fill(remote.url)
    page.get_by_label("Key", exact=True).fill(remote.key)
    page.get_by_role("button", name="Register").click()
    page.locator("#resource-table").wait_for()
    assert "Resource studio-b registered." in page.inner_text("#resources-page")
    assert remote.key not in page.content()
    assert axe(page) == []

    studio.goto("/projects/Travel/deployments/")
    page.get_by_label("Assign a resource").select_option(label="studio-b (westeurope)")
    page.get_by_role("button", name="Assign").click()
    page.get_by_text("Assigning studio-b").wait_for()
    assert ProjectResource.objects.filter(project__name="Travel").exists()
    studio.goto("/projects/Travel/deployments/")
    page.locator('#deployment-resources [data-state="never"]').wait_for()
    assert axe(page) == []
    assert violations(studio) == []
