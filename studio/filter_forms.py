"""Pieces shared by the studio's filter forms (audit trail, review queue)."""

from __future__ import annotations

from typing import Any

from django import forms

DATE_ERRORS = {"invalid": "Enter a date such as 2026-01-31."}


class DateRangeForm(forms.Form):
    """A filter form with an optional ``since``/``until`` day range (both days
    included); an end before the start is an error on ``until``."""

    since = forms.DateField(required=False, label="From", error_messages=DATE_ERRORS)
    until = forms.DateField(required=False, label="To", error_messages=DATE_ERRORS)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data
