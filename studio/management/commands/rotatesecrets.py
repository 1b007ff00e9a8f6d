"""``manage.py rotatesecrets``: after a ``SECRET_KEY`` rotation (the old key in
``SECRET_KEY_FALLBACKS``), move everything stored under the old key to the new one,
so the old key can be dropped: re-encrypt the stored target secrets and resource
keys, sign every model manifest (trained models, deployments and their shadows)
with the current key, write routers whose pickled model holds HTTP-target secrets
under an old key again with those secrets under the current key (a new artifact,
the rows pointed to it one at a time); and mask the plain secrets of snapshots
written before masking existed (README, "Security"). Each step is one transaction
(the routers: one per row) and running the command again is harmless. Anything no
listed key can read or verify, and a router that cannot be loaded, is left as it
is, named, and makes the command fail."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projects.services.targets import target_secrets_rotate
from training.artifact_store import (
    artifact_manifests_resign,
    router_target_secrets_reseal,
)
from training.services.resources import resource_keys_rotate
from training.train_jobs import snapshots_mask_target_secrets


class Command(BaseCommand):
    help = (
        "Move what is stored under an old SECRET_KEY (now in SECRET_KEY_FALLBACKS) "
        "to the current one: re-encrypt target secrets and resource keys, re-sign "
        "model manifests, rewrite routers whose model holds HTTP-target secrets "
        "under the old key, so the old key can be dropped; mask the plain secrets "
        "of snapshots written before masking."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten, unreadable = target_secrets_rotate()
        self.stdout.write(f"Re-encrypted the target secrets of {rewritten} intent(s).")
        keys, unreadable_keys = resource_keys_rotate()
        self.stdout.write(f"Re-encrypted the keys of {keys} deployment resource(s).")
        signed = artifact_manifests_resign()
        self.stdout.write(f"Re-signed the manifests of {signed.resigned} model(s).")
        routers = router_target_secrets_reseal()
        self.stdout.write(
            "Re-encrypted the HTTP-target secrets inside the model of "
            f"{len(routers.resealed)} router(s)"
            + (f": {', '.join(routers.resealed)}." if routers.resealed else ".")
        )
        masked = snapshots_mask_target_secrets()
        self.stdout.write(f"Masked the target secrets of {masked} older snapshot(s).")
        problems = []
        if unreadable:
            problems.append(
                "No key in SECRET_KEY or SECRET_KEY_FALLBACKS decrypts the target "
                f"secrets of: {', '.join(unreadable)}. Enter them again."
            )
        if unreadable_keys:
            problems.append(
                "No key in SECRET_KEY or SECRET_KEY_FALLBACKS decrypts the key of "
                f"the deployment resource(s): {', '.join(unreadable_keys)}. Enter "
                "it again on the Resources page."
            )
        if routers.unreadable:
            problems.append(
                "No key in SECRET_KEY or SECRET_KEY_FALLBACKS decrypts HTTP-target "
                "secrets inside the model of the router(s): "
                f"{', '.join(routers.unreadable)}. Their HTTP targets answer an "
                "error: enter the targets' key and headers again, then retrain and "
                "redeploy them."
            )
        if routers.unloadable:
            problems.append(
                "The model of the router(s) "
                f"{', '.join(routers.unloadable)} cannot be loaded, so HTTP-target "
                "secrets inside it could not be moved to the current key: retrain "
                "and redeploy them before dropping the old key from "
                "SECRET_KEY_FALLBACKS."
            )
        if routers.moving:
            problems.append(
                "The router(s) "
                f"{', '.join(routers.moving)} were deployed or swapped again while "
                "this ran, so their HTTP-target secrets may still be under the old "
                "key: run this command again once deploys have settled, before "
                "dropping the old key from SECRET_KEY_FALLBACKS."
            )
        if signed.unverifiable:
            problems.append(
                "No key in SECRET_KEY or SECRET_KEY_FALLBACKS signed the manifest of "
                f"the model(s): {', '.join(signed.unverifiable)}. They stay refused "
                "(a manifest nobody with a key wrote may be tampered with): add the "
                "key they were made with to SECRET_KEY_FALLBACKS and run this again, "
                "or retrain and redeploy them."
            )
        if problems:
            raise CommandError(" ".join(problems))
