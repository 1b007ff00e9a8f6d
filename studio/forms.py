"""Forms of the People and account pages (``studio/views.py``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm

from projects.views.project_forms import StudioForm


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
