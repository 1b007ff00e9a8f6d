"""Every published sample of the five SDK packages the studio serves, run unchanged
against the live stack (gunicorn + Celery + PostgreSQL + Redis), only environment
variables set; each sample's pass/fail is printed (``published_samples.py`` has the
how and why).

The samples reach the studio over HTTPS (azure-core sends bearer tokens only over
TLS): a second gunicorn of the live studio serves TLS with a certificate made here,
which the samples trust through ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE``, and
accepts tokens of a local OpenID Connect issuer (``tests/oidc_issuer.py``) for the
studio user ``samples-runner``.

Skips: the package index unreachable, or lacking one of the sdists, skips (always:
the samples cannot be had, and nothing in the studio is at fault). The index
answering but the download, unpacking or environment failing is a skip locally and a
failure under ``STUDIO_REQUIRE_SERVICES=1`` (CI), like a missing service.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.language.conversations.authoring import ConversationAuthoringClient
from azure.ai.language.questionanswering.authoring import AuthoringClient
from azure.core.credentials import AzureKeyCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from studio.processes import web_command
from tests.compat.helpers import unique
from tests.compat.published_samples import (
    PACKAGES,
    PREVIEW,
    STABLE,
    IndexUnavailable,
    Outcome,
    Package,
    Sample,
    SamplesBroken,
    fetch_samples,
    host_reachable,
    run_sample,
    sample_environment,
)
from tests.conftest import REPO_ROOT, LiveStudio, free_port, skip_or_fail
from tests.oidc_issuer import AUDIENCE, LocalIssuer

pytestmark = pytest.mark.integration

POLL_TIMEOUT = 180
RUNNER_USER = "samples-runner"
CONVERSATIONS, QNA, CONV_AUTHORING, QNA_AUTHORING, CONVERSATIONS_PREVIEW = PACKAGES


# -- the samples and their environments --------------------------------------------


@pytest.fixture(scope="module")
def sample_pythons() -> dict[str, Path]:
    try:
        for package in PACKAGES:
            fetch_samples(package)
        return {gen: sample_environment(gen) for gen in (STABLE, PREVIEW)}
    except IndexUnavailable as exc:
        skip_or_fail(f"the package index cannot give the samples' sdists: {exc}")
    except SamplesBroken as exc:
        skip_or_fail(f"the published samples cannot be prepared: {exc}")
    raise AssertionError("unreachable")


# -- an HTTPS front of the live studio that takes the test issuer's tokens ----------


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "studio.crt", folder / "studio.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class TlsFront:
    def __init__(self, url: str, cert: Path, token: str, token_expires: int) -> None:
        self.url = url
        self.cert = cert
        self.token = token
        self.token_expires = token_expires


@pytest.fixture(scope="module")
def tls_front(
    live_studio: LiveStudio, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsFront]:
    folder = tmp_path_factory.mktemp("samples-tls")
    cert, key = self_signed_certificate(folder)
    issuer = LocalIssuer()
    env = {
        **live_studio.env,
        "STUDIO_OIDC_ISSUER": issuer.url,
        "STUDIO_OIDC_AUDIENCE": AUDIENCE,
    }
    port = free_port()
    log = live_studio.log_dir / "web-tls.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *web_command(host="127.0.0.1", port=port, workers=2),
                "--certfile",
                str(cert),
                "--keyfile",
                str(key),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(  # noqa: S310 - our own https URL
                f"{url}/healthz", context=context, timeout=3
            ):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the TLS web process did not come up:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.3)
    expires = int(time.time()) + 3 * 3600
    token = issuer.token(RUNNER_USER, lifetime=expires - time.time())
    try:
        yield TlsFront(url, cert, token, expires)
    finally:
        from tests.conftest import stop_process_group

        stop_process_group(process, timeout=20)
        issuer.close()


# -- what the samples expect to exist ---------------------------------------------

SURFACE_QNAS = [
    {
        "id": 1,
        "answer": "Surface Pro 4 battery life: up to 9 hours of video playback. "
        "Battery life varies significantly with settings, usage and other factors.",
        "source": "surface-faq",
        "questions": [
            "How long should my Surface battery last?",
            "What is the battery life of a Surface?",
        ],
    },
    {
        "id": 2,
        "answer": "It takes two to four hours to charge the Surface Pro 4 battery "
        "fully from an empty state. It can take longer if you use your Surface for "
        "power-intensive activities while charging.",
        "source": "surface-faq",
        "questions": [
            "How long does it take to charge a Surface?",
            "How long it takes to charge Surface?",
        ],
    },
    {
        "id": 3,
        "answer": "I'm doing great, thanks for asking!",
        "source": "chitchat",
        "questions": ["How are you?", "How are you doing?"],
    },
]


def _poll(poller: Any) -> Any:
    return poller.result(timeout=POLL_TIMEOUT)


@pytest.fixture(scope="module")
def seeded(live_studio: LiveStudio, shared_data: Path) -> dict[str, str]:
    """The projects the samples name by environment variable, made through the
    REST API with the resource key: EmailApp (CLU) deployed as ``production``; a
    knowledge base of Surface answers and chit-chat deployed as ``test`` and
    ``production``; a router whose ``EmailIntent`` links EmailApp and whose
    ``ChitChat-QnA`` links the knowledge base (the intent names the samples use)."""
    credential = AzureKeyCredential(live_studio.api_key)
    clu = ConversationAuthoringClient(live_studio.url, credential)
    qna = AuthoringClient(live_studio.url, credential)
    names = {
        "clu": unique("EmailApp"),
        "kb": unique("SurfaceKb"),
        "router": unique("Router"),
        "preview": unique("SamplesPreview"),
        "preview_async": unique("SamplesPreviewAsync"),
    }
    email_app = json.loads(
        (
            shared_data / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
        ).read_text(encoding="utf-8")
    )
    _poll(clu.begin_import_project(names["clu"], email_app))
    split = {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
        "testingSplitPercentage": 20,
    }
    _poll(
        clu.begin_train(
            names["clu"],
            {
                "modelLabel": "m1",
                "trainingMode": "standard",
                "evaluationOptions": split,
            },
        )
    )
    _poll(
        clu.begin_deploy_project(
            names["clu"], "production", {"trainedModelLabel": "m1"}
        )
    )
    # The preview lifecycle's projects (one for the sync samples, one for the async
    # ones, which repeat every step): what sample_create_project, _import_project
    # and _train would make if their code did not send placeholders.
    previews = [names["preview"], names["preview_async"]]
    for preview in previews:
        _poll(clu.begin_import_project(preview, email_app))
        _poll(
            clu.begin_train(
                preview,
                {
                    "modelLabel": "m1",
                    "trainingMode": "standard",
                    "evaluationOptions": split,
                },
            )
        )

    qna.create_project(
        names["kb"],
        {"language": "en", "description": "Surface FAQ", "multilingualResource": False},
    )
    _poll(
        qna.begin_update_qnas(
            names["kb"], [{"op": "add", "value": pair} for pair in SURFACE_QNAS]
        )
    )
    for deployment in ("test", "production"):
        _poll(qna.begin_deploy_project(names["kb"], deployment))

    router = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectName": names["router"],
            "projectKind": "Orchestration",
            "language": "en-us",
            "settings": {"confidenceThreshold": 0.0},
        },
        "assets": {
            "projectKind": "Orchestration",
            "intents": [
                {
                    "category": "EmailIntent",
                    "orchestration": {
                        "targetProjectKind": "Conversation",
                        "conversationOrchestration": {
                            "projectName": names["clu"],
                            "deploymentName": "production",
                        },
                    },
                },
                {
                    "category": "ChitChat-QnA",
                    "orchestration": {
                        "targetProjectKind": "QuestionAnswering",
                        "questionAnsweringOrchestration": {"projectName": names["kb"]},
                    },
                },
                {"category": "None"},
            ],
            "utterances": [],
        },
    }
    _poll(clu.begin_import_project(names["router"], router))
    _poll(
        clu.begin_train(
            names["router"],
            {
                "modelLabel": "router",
                "trainingMode": "standard",
                "evaluationOptions": split,
            },
        )
    )
    _poll(
        clu.begin_deploy_project(
            names["router"], "production", {"trainedModelLabel": "router"}
        )
    )
    # The token's user, admin of the preview projects and viewer of the deployed
    # ones (the new generation's samples sign in with a token; a user's roles
    # apply, as a key it made; predicting needs read access, also to the
    # projects a router links).
    roles = dict.fromkeys(previews, "admin")
    roles.update({names[n]: "viewer" for n in ("clu", "kb", "router")})
    granted = live_studio.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from projects.models import Project, ProjectMembership\n"
        f"user, _ = get_user_model().objects.get_or_create(username={RUNNER_USER!r})\n"
        f"roles = {roles!r}\n"
        "for project in Project.objects.filter(name__in=list(roles)):\n"
        "    ProjectMembership.objects.update_or_create(\n"
        "        project=project, user=user,\n"
        "        defaults={'role': roles[project.name]})\n",
    )
    assert granted.returncode == 0, granted.stderr
    registered = live_studio.manage(
        "shell",
        "-c",
        "from training.services.resources import resource_create\n"
        f"resource_create(azure_resource_id={SAMPLES_RESOURCE!r}, region='westus2', "
        f"endpoint={live_studio.url!r}, key={live_studio.api_key!r})\n",
    )
    assert registered.returncode == 0, registered.stderr
    return names


# -- the catalog ---------------------------------------------------------------------

SUMMARIZATION = "conversation summarization jobs are not offered"
CONVERSATION_JOBS = "conversation PII and summarization jobs are not offered"
PLACEHOLDER_JOB = "job id '00000000-0000-0000-0000-000000000000' in its code"
PLACEHOLDER_RESOURCE_DEPLOYMENT = (
    "deployment name 'test-deployment' in its code, on no resource"
)
JOB_NOT_FOUND = "was not found"
# The live studio registered as its own deployment resource: the samples only
# assign, list and unassign it (a copy between two studios is
# tests/training/test_resources_live.py).
SAMPLES_RESOURCE = "/subscriptions/samples/resourceGroups/rg/providers/studio"
NOT_OFFERED_ANSWER = "are not offered by this studio"
LUIS = (
    "routes to a LUIS app: needs a LUIS prediction resource (STUDIO_LUIS_ENDPOINT), "
    "an external service the tests do not have"
)
PLACEHOLDER_LANGUAGE = "language '<language-tag>' (and more placeholders) in its code"
PLACEHOLDER_TRAINING = "model label '<model-label>' and '<config-version>' in its code"


def catalog(names: dict[str, str]) -> list[Sample]:
    """Every sample file of the five packages, in the order they run. The preview
    lifecycle deploys, swaps, exports and finally deletes its project (the sync
    samples one project, their async twins another)."""
    stable_env = {
        "AZURE_CONVERSATIONS_PROJECT_NAME": names["clu"],
        "AZURE_CONVERSATIONS_DEPLOYMENT_NAME": "production",
        "AZURE_CONVERSATIONS_WORKFLOW_PROJECT_NAME": names["router"],
        "AZURE_CONVERSATIONS_WORKFLOW_DEPLOYMENT_NAME": "production",
        "AZURE_QUESTIONANSWERING_PROJECT": names["kb"],
    }
    samples: list[Sample] = []

    def add(package: Package, path: str, **options: Any) -> None:
        env = {**stable_env, **options.pop("env", {})}
        folder, _, name = path.rpartition("/")
        async_folder = (
            "async"
            if package.name.endswith("conversations") or (package is CONV_AUTHORING)
            else "async_samples"
        )
        if package is CONVERSATIONS and folder:
            async_path = f"async/{folder}/{name.replace('.py', '_async.py')}"
        elif folder:
            async_path = f"{folder}/{async_folder}/{name.replace('.py', '_async.py')}"
        else:
            async_path = f"{async_folder}/{name.replace('.py', '_async.py')}"
        lifecycle = options.pop("lifecycle", False)
        for variant, project in (
            (path, names["preview"]),
            (async_path, names["preview_async"]),
        ):
            variant_env = dict(env)
            if lifecycle:
                variant_env.update(PROJECT_NAME=project, TRAINED_MODEL="m1")
            samples.append(Sample(package, variant, variant_env, **options))

    not_offered = {"expect": NOT_OFFERED_ANSWER}
    # azure-ai-language-conversations 1.1.0
    add(CONVERSATIONS, "sample_authentication.py")
    add(CONVERSATIONS, "sample_analyze_conversation_app.py")
    add(CONVERSATIONS, "sample_analyze_orchestration_app_conv_response.py")
    add(CONVERSATIONS, "sample_analyze_orchestration_app_qna_response.py")
    add(CONVERSATIONS, "sample_analyze_orchestration_direct_target.py")
    add(
        CONVERSATIONS,
        "sample_analyze_orchestration_app_luis_response.py",
        not_offered=LUIS,
    )
    add(
        CONVERSATIONS,
        "sample_conv_summarization.py",
        not_offered=SUMMARIZATION,
        **not_offered,
    )
    add(CONVERSATIONS, "authoring/sample_manage_projects.py")
    # azure-ai-language-questionanswering 1.1.0
    add(QNA, "sample_query_knowledgebase.py")
    add(QNA, "sample_chat.py")
    add(QNA, "sample_query_text.py")
    add(
        QNA, "authoring/sample_create_and_deploy_project.py", needs_host="wikipedia.org"
    )
    add(QNA, "authoring/sample_export_import_project.py")
    add(
        QNA,
        "authoring/sample_update_knowledge_sources.py",
        needs_host="www.microsoft.com",
    )
    # azure-ai-language-questionanswering-authoring 1.0.0b1
    add(
        QNA_AUTHORING, "sample_create_and_deploy_project.py", needs_host="wikipedia.org"
    )
    add(QNA_AUTHORING, "sample_export_import_project.py")
    add(
        QNA_AUTHORING,
        "sample_update_knowledge_sources.py",
        needs_host="www.microsoft.com",
    )
    # azure-ai-language-conversations 2.0.0b2: the runtime's typed models, with a
    # token (the deployed projects above).
    add(CONVERSATIONS_PREVIEW, "sample_authentication.py")
    add(CONVERSATIONS_PREVIEW, "sample_conversation_prediction.py")
    add(CONVERSATIONS_PREVIEW, "sample_conversation_prediction_with_language.py")
    add(CONVERSATIONS_PREVIEW, "sample_conversation_prediction_with_options.py")
    add(CONVERSATIONS_PREVIEW, "sample_conversation_multi_turn_prediction.py")
    add(
        CONVERSATIONS_PREVIEW,
        "sample_orchestration_prediction.py",
        env={"AZURE_CONVERSATIONS_PROJECT_NAME": names["router"]},
    )
    for path in (
        "sample_conversation_pii.py",
        "sample_conversation_pii_with_character_mask_policy.py",
        "sample_conversation_pii_with_entity_mask_policy.py",
        "sample_conversation_pii_with_no_mask_policy.py",
        "sample_conversation_summarization.py",
    ):
        add(CONVERSATIONS_PREVIEW, path, not_offered=CONVERSATION_JOBS, **not_offered)
    # azure-ai-language-conversations-authoring 1.0.0b4: one project's lifecycle.
    add(CONV_AUTHORING, "sample_authentication.py")
    add(
        CONV_AUTHORING,
        "sample_create_project.py",
        lifecycle=True,
        placeholders=PLACEHOLDER_LANGUAGE,
        expect="Language '<language-tag>' is not a BCP-47 tag",
    )
    add(CONV_AUTHORING, "sample_get_project.py", lifecycle=True)
    # The import is refused by its job (as Azure validates imports): the SDK only
    # says the operation failed; the job's error is checked in the database.
    add(
        CONV_AUTHORING,
        "sample_import_project.py",
        lifecycle=True,
        placeholders=PLACEHOLDER_LANGUAGE,
        expect="Operation failed: Operation returned an invalid status 'OK'",
    )
    add(
        CONV_AUTHORING,
        "sample_train.py",
        lifecycle=True,
        placeholders=PLACEHOLDER_TRAINING,
        expect="(InvalidArgument)",
    )
    add(CONV_AUTHORING, "sample_cancel_training_job.py", lifecycle=True)
    add(CONV_AUTHORING, "sample_get_model_evaluation_results.py", lifecycle=True)
    add(CONV_AUTHORING, "sample_get_model_evaluation_summary.py", lifecycle=True)
    add(CONV_AUTHORING, "sample_load_snapshot.py", lifecycle=True)
    for deployment in ("first", "second"):
        add(
            CONV_AUTHORING,
            "sample_deploy_project.py",
            lifecycle=True,
            env={"DEPLOYMENT_NAME": deployment},
        )
    add(
        CONV_AUTHORING,
        "sample_get_deployment.py",
        lifecycle=True,
        env={"DEPLOYMENT_NAME": "first"},
    )
    add(
        CONV_AUTHORING,
        "sample_swap_deployments.py",
        lifecycle=True,
        env={"FIRST_DEPLOYMENT": "first", "SECOND_DEPLOYMENT": "second"},
    )
    add(CONV_AUTHORING, "sample_export_project.py", lifecycle=True)
    # Deployment resources: the preview project is assigned the studio's registered
    # resource (``seeded``), listed, and unassigned. Three samples read a job by a
    # made-up id, one deletes a deployment name from its code that is on no
    # resource: they must be refused with the studio's clear answer.
    resource_env = {
        "RESOURCE_ID": SAMPLES_RESOURCE,
        "RESOURCE_DOMAIN": "samples-resource",
        "RESOURCE_REGION": "westus2",
    }
    add(
        CONV_AUTHORING,
        "sample_assign_project_resources.py",
        lifecycle=True,
        env=resource_env,
    )
    add(
        CONV_AUTHORING,
        "sample_get_assign_project_resources_status.py",
        lifecycle=True,
        placeholders=PLACEHOLDER_JOB,
        expect=JOB_NOT_FOUND,
    )
    add(CONV_AUTHORING, "sample_list_project_resources.py", lifecycle=True)
    add(CONV_AUTHORING, "sample_list_assigned_resource_deployments.py", lifecycle=True)
    add(
        CONV_AUTHORING,
        "sample_delete_deployment_from_resources.py",
        lifecycle=True,
        env=resource_env,
        placeholders=PLACEHOLDER_RESOURCE_DEPLOYMENT,
        expect="is not on resource",
    )
    add(
        CONV_AUTHORING,
        "sample_get_deployment_delete_from_resources_status.py",
        lifecycle=True,
        placeholders=PLACEHOLDER_JOB,
        expect=JOB_NOT_FOUND,
    )
    add(
        CONV_AUTHORING,
        "sample_unassign_project_resources.py",
        lifecycle=True,
        env=resource_env,
    )
    add(
        CONV_AUTHORING,
        "sample_get_unassign_project_resources_status.py",
        lifecycle=True,
        placeholders=PLACEHOLDER_JOB,
        expect=JOB_NOT_FOUND,
    )
    add(
        CONV_AUTHORING,
        "sample_delete_deployment.py",
        lifecycle=True,
        env={"DEPLOYMENT_NAME": "second"},
    )
    add(CONV_AUTHORING, "sample_delete_trained_model.py", lifecycle=True)
    add(CONV_AUTHORING, "sample_delete_project.py", lifecycle=True)
    return samples


def queued_training_job(live_studio: LiveStudio, project: str) -> str:
    """The id of a training job of ``project`` that waits in the queue: the worker
    is stopped first (the caller restarts it), so the cancel sample has a job to
    cancel whatever the machine's speed."""
    live_studio.stop_worker()
    request = urllib.request.Request(  # noqa: S310 - the live studio's URL
        f"{live_studio.url}/language/authoring/analyze-conversations/projects/"
        f"{project}/:train?api-version=2023-04-01",
        data=json.dumps(
            {"modelLabel": "cancelled", "trainingMode": "standard"}
        ).encode(),
        method="POST",
        headers={
            "Ocp-Apim-Subscription-Key": live_studio.api_key,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        location = response.headers["operation-location"]
    return location.split("?")[0].rsplit("/", 1)[1]


IMPORT_SAMPLES = ("sample_import_project.py", "sample_import_project_async.py")


def import_refused_for_its_placeholders(
    live_studio: LiveStudio, outcome: Outcome, project: str
) -> Outcome:
    """The sample's import job failed because of its placeholder language, and the
    project it would have replaced is unchanged (imports are atomic)."""
    rows = live_studio.database_query(
        "SELECT status, errors::text FROM training_job WHERE project_name = %s "
        "AND kind = 'import' ORDER BY created_at DESC LIMIT 1",
        (project,),
    )
    intents = live_studio.database_query(
        "SELECT count(*) FROM projects_intent i JOIN projects_project p "
        "ON i.project_id = p.id WHERE p.name = %s AND i.name = '<intent-a>'",
        (project,),
    )
    refused = (
        bool(rows)
        and rows[0][0] == "failed"
        and "<language-tag>" in rows[0][1]
        and intents == [(0,)]
    )
    if refused:
        return outcome
    return Outcome(
        outcome.sample,
        False,
        f"{outcome.output}\nimport job: {rows}; '<intent-a>' intents: {intents}",
        "FAIL",
    )


def test_every_published_sample_that_maps_to_a_served_feature_passes(
    live_studio: LiveStudio,
    seeded: dict[str, str],
    sample_pythons: dict[str, Path],
    tls_front: TlsFront,
    capsys: pytest.CaptureFixture[str],
) -> None:
    samples = catalog(seeded)
    listed = {(s.package, s.path) for s in samples}
    shipped = {
        (package, str(path.relative_to(package.folder)))
        for package in PACKAGES
        for path in package.folder.rglob("sample_*.py")
    }
    assert shipped == listed, (
        f"shipped, not in the catalog: {sorted(p for _, p in shipped - listed)}; "
        f"in the catalog, not shipped: {sorted(p for _, p in listed - shipped)}"
    )
    env = {
        "AZURE_CONVERSATIONS_ENDPOINT": tls_front.url,
        "AZURE_CONVERSATIONS_AUTHORING_ENDPOINT": tls_front.url,
        "AZURE_CONVERSATIONS_KEY": live_studio.api_key,
        "AZURE_QUESTIONANSWERING_ENDPOINT": tls_front.url,
        "AZURE_QUESTIONANSWERING_KEY": live_studio.api_key,
        "SSL_CERT_FILE": str(tls_front.cert),
        "REQUESTS_CA_BUNDLE": str(tls_front.cert),
        "STUDIO_SAMPLES_BEARER_TOKEN": tls_front.token,
        "STUDIO_SAMPLES_TOKEN_EXPIRES_ON": str(tls_front.token_expires),
    }
    outcomes: list[Outcome] = []
    reachable: dict[str, bool] = {}

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")

    with capsys.disabled():
        say(f"\npublished samples against {tls_front.url}:")
        for sample in samples:
            label = sample.label + "".join(
                f" {k}={v}"
                for k, v in sample.env.items()
                if k.endswith("DEPLOYMENT") or k == "DEPLOYMENT_NAME"
            )
            if sample.not_offered and not sample.expect:
                say(f"  NOT RUN      {label}: {sample.not_offered}")
                continue
            host = sample.needs_host
            if host and not reachable.setdefault(host, host_reachable(host)):
                say(f"  NO NETWORK   {label}: the studio cannot reach {host} here")
                continue
            extra: dict[str, str] = {}
            if sample.path.endswith(
                ("sample_cancel_training_job.py", "sample_cancel_training_job_async.py")
            ):
                extra["JOB_ID"] = queued_training_job(
                    live_studio, sample.env["PROJECT_NAME"]
                )
            try:
                outcome = run_sample(
                    Sample(
                        sample.package,
                        sample.path,
                        {**sample.env, **extra},
                        sample.not_offered,
                        sample.placeholders,
                        sample.expect,
                    ),
                    python=sample_pythons[sample.package.generation],
                    env=env,
                )
            finally:
                if extra:
                    live_studio.start_worker()
                    live_studio.wait_for_worker_heartbeat(live_studio.worker_pid)
            if outcome.passed and sample.path.endswith(IMPORT_SAMPLES):
                outcome = import_refused_for_its_placeholders(
                    live_studio, outcome, sample.env["PROJECT_NAME"]
                )
            outcomes.append(outcome)
            why = sample.not_offered or sample.placeholders
            say(f"  {outcome.verdict:11}  {label}" + (f" ({why})" if why else ""))
        failed = [o for o in outcomes if not o.passed]
        say(
            f"published samples: {len(outcomes) - len(failed)} passed, "
            f"{len(failed)} failed, {len(samples) - len(outcomes)} not run"
        )
    assert not failed, "\n\n".join(
        f"{o.sample.label} {o.sample.env}:\n{o.output[-3000:]}" for o in failed
    )
