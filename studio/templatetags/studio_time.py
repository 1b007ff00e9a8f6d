"""``{{ when|ago }}``: how long ago, in the studio's words.

Django's ``timesince`` says "0 minutes" for anything under a minute, which reads
as a bug ("0 minutes ago"); under a minute is "just now".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(value: datetime | None) -> str:
    if value is None:
        return ""
    if timezone.now() - value < JUST_NOW:
        return "just now"
    return f"{timesince(value)} ago"
