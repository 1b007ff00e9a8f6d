"""The base of every studio form (``StudioForm``: service errors land next to the
field their Azure ``target`` names) and the forms of the studio's own pages
(``studio/views.py``): People, account, and the audit trail's filter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm

from studio.errors import StudioError
from studio.filter_forms import DateRangeForm
from studio.plain_errors import plain_message
from studio.selectors import audit as sa


class StudioForm(forms.Form):
    """A form that takes service errors by their Azure ``target``. (Django marks
    invalid fields with aria-invalid and links their messages by itself.)"""

    # Azure targets (JSON paths) -> form field; anything else is a form error.
    targets: Mapping[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # labels read "Name", not "Name:"
        super().__init__(*args, **kwargs)

    def add_studio_error(self, exc: StudioError) -> None:
        details = exc.details or [exc.as_detail()]
        for detail in details:
            field = self.targets.get(detail.target or "")
            if field is None and detail.target:
                # "settings.confidenceThreshold" and "[3].intent" style paths.
                field = next(
                    (f for t, f in self.targets.items() if detail.target.endswith(t)),
                    None,
                )
            self.add_error(
                field if field in self.fields else None, plain_message(detail.message)
            )


def focus_first_error(form: forms.Form) -> forms.Form:
    """Put ``autofocus`` on the first field with an error, so that a page rendered
    with errors (a plain post, without JavaScript's help) starts at that field.
    (After an htmx swap ``studio.js`` focuses the first ``aria-invalid`` field.)"""
    for name, field in form.fields.items():
        if name in form.errors:
            field.widget.attrs["autofocus"] = True
            break
    return form


SIGN_IN_ONE_TIME = "password"  # noqa: S105 (a choice value, not a secret)
SIGN_IN_INVITE = "invite"


class PersonCreateForm(StudioForm):
    username = forms.CharField(
        label="User name",
        max_length=150,
        help_text="Letters, digits and @ . + - _; how they sign in.",
    )
    email = forms.CharField(
        label="E-mail address",
        required=False,
        max_length=254,
        widget=forms.EmailInput(),
        help_text="Needed for an invitation or a password link.",
    )
    sign_in = forms.ChoiceField(
        label="How they sign in first",
        widget=forms.RadioSelect,
        choices=[
            (SIGN_IN_ONE_TIME, "A one-time password, shown to you once"),
            (SIGN_IN_INVITE, "An invitation link sent by e-mail"),
        ],
        initial=SIGN_IN_ONE_TIME,
    )
    is_staff = forms.BooleanField(
        label="Studio staff",
        required=False,
        help_text="May manage people on this page.",
    )

    targets = {
        "username": "username",
        "email": "email",
        "invite": "sign_in",
        "is_staff": "is_staff",
    }

    def __init__(
        self, *args: Any, email_enabled: bool, may_make_staff: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not email_enabled:
            del self.fields["sign_in"]
        if not may_make_staff:
            del self.fields["is_staff"]

    @property
    def invite(self) -> bool:
        return self.cleaned_data.get("sign_in") == SIGN_IN_INVITE


class StudioPasswordChangeForm(PasswordChangeForm):
    """Django's form with the studio's labels (no trailing colon)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ApiKeyCreateForm(StudioForm):
    name = forms.CharField(
        label="Key name",
        max_length=100,
        help_text="What the key is for, e.g. 'chat bot staging'.",
    )

    targets = {"name": "name"}


# Who acted, as the audit trail's actor list names them.
AUDIT_USER_RE = r"^(user:\d{1,18}|key:\d{1,18}|system)$"


class AuditFilterForm(DateRangeForm):
    action = forms.ChoiceField(
        required=False,
        label="What",
        choices=[("", "Everything"), *sa.ACTION_FAMILIES.items()],
        error_messages={"invalid_choice": "Choose a kind of change from the list."},
        # The id the template's <label for> names (Django's would be id_action).
        widget=forms.Select(attrs={"id": "audit-action"}),
    )
    user = forms.RegexField(
        required=False,
        label="Who",
        regex=AUDIT_USER_RE,
        error_messages={"invalid": "Choose someone from the list."},
    )
    target = forms.CharField(required=False, label="On", max_length=200, strip=True)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> sa.AuditFilter:
        data = self.cleaned_data
        return sa.AuditFilter(
            action=data["action"],
            user=data["user"],
            target=data["target"],
            since=data["since"],
            until=data["until"],
        )
