"""Shared fixtures for the studio UI view tests.

* ``users``: one user per role, all members of the three ``ui_projects``, plus an
  ``outsider`` (no membership anywhere) and a ``superuser`` (admin everywhere).
* ``ui_projects``: a Conversation (``conv``), an Orchestration (``orch``) and a
  QuestionAnswering (``kb``) project.
* ``client_for(role)``: a logged-in test client for "admin", "analyst", "viewer",
  "outsider" or "superuser"; ``admin_client_ui``, ``analyst_client``, ``viewer_client``,
  ``outsider_client`` are the common ones. The ``client`` fixture stays anonymous.
* ``HTMX``: keyword arguments that make a test-client request an htmx request:
  ``client.get(url, **HTMX)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client

from projects.models import Project, ProjectMembership
from tests.factories import (
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
)

ROLES = ("admin", "analyst", "viewer")
HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
PASSWORD = "Ui-Test-Password-1"


@dataclass
class UiProjects:
    conv: Project
    orch: Project
    kb: Project

    def all(self) -> list[Project]:
        return [self.conv, self.orch, self.kb]


@dataclass
class UiUsers:
    admin: User
    analyst: User
    viewer: User
    outsider: User
    superuser: User

    def get(self, role: str) -> User:
        user: User = getattr(self, role)
        return user


def make_user(username: str, **extra: Any) -> User:
    model = get_user_model()
    user: User = model.objects.create_user(
        username=username,
        email=f"{username}@example.test",
        password=PASSWORD,
        **extra,
    )
    return user


def add_member(project: Project, user: User, role: str) -> None:
    ProjectMembership.objects.update_or_create(
        project=project, user_id=user.pk, defaults={"role": role}
    )


def make_projects() -> UiProjects:
    return UiProjects(
        conv=ProjectFactory.create(name="conv"),
        orch=OrchestrationProjectFactory.create(name="orch"),
        kb=KbProjectFactory.create(name="kb"),
    )


def make_users(ui_projects: UiProjects) -> UiUsers:
    """One user per role, members of every project, plus an outsider and a
    superuser. Other test packages call this (and ``make_projects``) from their own
    fixtures."""
    made = UiUsers(
        admin=make_user("alice-admin"),
        analyst=make_user("ana-analyst"),
        viewer=make_user("vic-viewer"),
        outsider=make_user("oscar-outsider"),
        superuser=make_user("sue-super", is_superuser=True, is_staff=True),
    )
    for project in ui_projects.all():
        for role in ROLES:
            add_member(project, made.get(role), role)
    return made


@pytest.fixture
def ui_projects(db: None) -> UiProjects:
    return make_projects()


@pytest.fixture
def users(ui_projects: UiProjects) -> UiUsers:
    return make_users(ui_projects)


@pytest.fixture
def client_for(users: UiUsers) -> Callable[[str], Client]:
    def make(role: str) -> Client:
        client = Client()
        client.force_login(users.get(role))
        return client

    return make


@pytest.fixture
def admin_client_ui(client_for: Callable[[str], Client]) -> Client:
    return client_for("admin")


@pytest.fixture
def analyst_client(client_for: Callable[[str], Client]) -> Client:
    return client_for("analyst")


@pytest.fixture
def viewer_client(client_for: Callable[[str], Client]) -> Client:
    return client_for("viewer")


@pytest.fixture
def outsider_client(client_for: Callable[[str], Client]) -> Client:
    return client_for("outsider")
