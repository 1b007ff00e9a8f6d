"""Encrypt the secrets of external HTTP targets stored before encryption existed
(header values and ``http_key``; ``studio.crypto``). Idempotent: values already
encrypted are left alone. Reversible: backwards decrypts them again."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from studio.crypto import is_encrypted, secret_decrypt, secret_encrypt


def _rewrite(apps: Any, change: Any) -> None:
    intent_model = apps.get_model("projects", "Intent")
    rows = intent_model.objects.exclude(http_key="", http_headers={})
    for intent in rows.only("pk", "http_headers", "http_key").iterator():
        headers = {str(k): change(str(v)) for k, v in (intent.http_headers or {}).items()}
        key = change(intent.http_key) if intent.http_key else ""
        if headers != intent.http_headers or key != intent.http_key:
            intent_model.objects.filter(pk=intent.pk).update(
                http_headers=headers, http_key=key
            )


def encrypt_target_secrets(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, lambda v: v if is_encrypted(v) else secret_encrypt(v))


def decrypt_target_secrets(apps: Any, schema_editor: Any) -> None:
    _rewrite(apps, secret_decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_labeling_undo"),
    ]

    operations = [
        migrations.AlterField(
            model_name="intent",
            name="http_key",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_target_secrets, decrypt_target_secrets),
    ]
