"""Keeps personal API keys from outliving their owner.

``ApiKey.created_by`` is set to NULL when the user is deleted, and a key with no
owner is a resource key with full access (``ProjectApiView.check_project_access``).
Without this, deleting a user would turn their personal keys into keys that may do
everything; revoking them first closes that.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from studio.models import ApiKey


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def revoke_keys_of_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    ApiKey.objects.filter(created_by_id=instance.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
