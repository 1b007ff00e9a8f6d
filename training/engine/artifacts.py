"""Verifiable model artifacts: bytes plus a manifest that says what they are.

A fitted model is pickled (scikit-learn's own persistence format; see its "model
persistence" guide). Unpickling runs code, so ``load_model`` checks everything it
can *before* touching the bytes:

1. ``format_version`` is one this code writes;
2. the sha256 of the bytes equals the manifest's (a flipped byte, a truncated upload
   or a swapped file is refused);
3. when a ``signing_key`` is given, an HMAC-SHA256 over the manifest (sha256
   included) proves the manifest itself was written by someone holding the key, so
   an attacker who can write to artifact storage cannot replace bytes and manifest
   together; ``fallback_keys`` are former keys also accepted (a key rotation: the
   caller signs new manifests with ``signing_key`` only);
4. library versions match: **exactly** for scikit-learn (it only supports
   unpickling with the version that pickled), **major.minor** for Python, numpy,
   scipy and python-crfsuite (patch releases keep pickles and array layouts);
5. when ``expected_training_data_hash`` is given, it equals the manifest's, so a
   model is never served for a project whose data it was not trained on;
6. an advanced model's sentence encoder is registered here with the weights'
   sha256 the model was trained with (checked while unpickling).

Any failure raises ``ArtifactError`` naming the check and both values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import pickle
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from training.engine.embeddings import AdvancedModeUnavailable
from training.engine.static_vectors import StaticVectorsUnavailable

FORMAT_VERSION = 1

# distribution name -> how much of the version must match ("exact" or "minor").
VERSION_POLICY: dict[str, str] = {
    "python": "minor",
    "numpy": "minor",
    "scipy": "minor",
    "scikit-learn": "exact",
    "python-crfsuite": "minor",
}


class ArtifactError(ValueError):
    """An artifact that must not be loaded; the message names the failed check."""


class ArtifactDependencyMissing(ArtifactError):
    """A sound artifact that cannot load here: something it needs beside it on
    this server (its sentence encoder's weights, its static word vector table) is
    missing or altered. An operator fixes it (restore the file, retrain); the
    runtime answers 503 saying so, not 500."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries a fitted model's pickle depends on."""
    versions = {"python": platform.python_version()}
    for name in VERSION_POLICY:
        if name == "python":
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(
        f"training record of type {type(value).__name__} is not JSON-serializable"
    )


def _canonical(value: Any) -> bytes:
    return json.dumps(
        value,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=_json_default,
    ).encode("utf-8")


def training_data_hash(records: Iterable[Any]) -> str:
    """sha256 over the canonical JSON of each record, one per line.

    Keys are sorted and whitespace is fixed, so the hash does not depend on how a
    dict was built. It *is* sensitive to the order of records, on purpose: the
    percentage split and the learners see records in order, so the same records
    in another order can train a different model. Dataclasses (e.g. ``Span``) and
    tuples are accepted and hashed like dicts and lists.
    """
    digest = hashlib.sha256()
    for record in records:
        try:
            digest.update(_canonical(record))
        except (TypeError, ValueError) as exc:
            raise ArtifactError(f"cannot hash training data: {exc}") from exc
        # json.dumps escapes newlines inside strings, so this separator is unambiguous.
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class ArtifactManifest:
    """Everything stored beside an artifact's bytes."""

    sha256: str
    library_versions: dict[str, str]
    training_data_hash: str
    params: dict[str, Any]
    created_at: str
    format_version: int = FORMAT_VERSION
    size: int = 0
    signature: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "library_versions": dict(self.library_versions),
            "training_data_hash": self.training_data_hash,
            "params": self.params,
            "created_at": self.created_at,
            "format_version": self.format_version,
            "size": self.size,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArtifactManifest:
        if not isinstance(data, Mapping):
            raise ArtifactError(
                f"manifest must be a JSON object, got {type(data).__name__}"
            )
        required = ("sha256", "library_versions", "training_data_hash", "params")
        missing = [key for key in (*required, "created_at") if key not in data]
        if missing:
            raise ArtifactError(f"manifest is missing {', '.join(missing)}")
        versions = data["library_versions"]
        if not isinstance(versions, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in versions.items()
        ):
            raise ArtifactError("manifest library_versions must map names to strings")
        if not isinstance(data["params"], Mapping):
            raise ArtifactError("manifest params must be a JSON object")
        for key in ("sha256", "training_data_hash", "created_at"):
            if not isinstance(data[key], str):
                raise ArtifactError(f"manifest {key} must be a string")
        format_version = data.get("format_version", FORMAT_VERSION)
        if isinstance(format_version, bool) or not isinstance(format_version, int):
            raise ArtifactError("manifest format_version must be an integer")
        signature = data.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise ArtifactError("manifest signature must be a string")
        size = data.get("size", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ArtifactError("manifest size must be a non-negative integer")
        return cls(
            sha256=data["sha256"],
            library_versions=dict(versions),
            training_data_hash=data["training_data_hash"],
            params=dict(data["params"]),
            created_at=data["created_at"],
            format_version=format_version,
            size=size,
            signature=signature,
        )

    def signed_payload(self) -> bytes:
        """The bytes the HMAC covers: the canonical manifest without its signature."""
        unsigned = self.to_dict()
        unsigned.pop("signature")
        return _canonical(unsigned)


def _sign(manifest: ArtifactManifest, key: bytes) -> str:
    return hmac.new(key, manifest.signed_payload(), hashlib.sha256).hexdigest()


def manifest_sign(manifest: ArtifactManifest, key: bytes) -> ArtifactManifest:
    """``manifest`` signed with ``key`` (a restore moves models to another key)."""
    return dataclasses.replace(manifest, signature=_sign(manifest, key))


def manifest_signature_valid(manifest: ArtifactManifest, key: bytes) -> bool:
    """Whether ``manifest`` carries the signature ``key`` makes."""
    return manifest.signature is not None and hmac.compare_digest(
        _sign(manifest, key), manifest.signature
    )


def manifest_signed_by(
    manifest: ArtifactManifest, keys: Sequence[bytes]
) -> bytes | None:
    """The first of ``keys`` whose signature ``manifest`` carries, or ``None``."""
    return next((k for k in keys if manifest_signature_valid(manifest, k)), None)


def dump_model(
    model: object,
    *,
    training_data_hash: str,
    params: Mapping[str, Any],
    signing_key: bytes | None = None,
) -> tuple[bytes, ArtifactManifest]:
    """Serialize ``model`` and describe it; the manifest is what ``load_model`` checks.

    ``params`` (training mode, split, seed, ...) must be JSON-serializable because it
    is stored beside the artifact.
    """
    try:
        _canonical(dict(params))
    except (TypeError, ValueError) as exc:
        raise ArtifactError(
            f"training params are not JSON-serializable: {exc}"
        ) from exc
    try:
        data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ArtifactError(f"model cannot be serialized: {exc}") from exc
    return data, describe_model(
        data,
        training_data_hash=training_data_hash,
        params=params,
        signing_key=signing_key,
    )


def describe_model(
    data: bytes,
    *,
    training_data_hash: str,
    params: Mapping[str, Any],
    signing_key: bytes | None = None,
    versions: Mapping[str, str] | None = None,
) -> ArtifactManifest:
    """The manifest of a model already serialized as ``data`` (``dump_model``'s,
    or bytes of a stored model changed in place: ``versions`` are then the library
    versions that pickled it, by default this process's)."""
    manifest = ArtifactManifest(
        sha256=hashlib.sha256(data).hexdigest(),
        library_versions=dict(versions) if versions is not None else library_versions(),
        training_data_hash=training_data_hash,
        params=dict(params),
        created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        size=len(data),
    )
    if signing_key is not None:
        manifest = dataclasses.replace(manifest, signature=_sign(manifest, signing_key))
    return manifest


def _significant(version: str, policy: str) -> str:
    if policy == "exact":
        return version
    return ".".join(version.split(".")[:2])


def check_versions(recorded: Mapping[str, str]) -> None:
    """Refuse when a library the artifact recorded differs here (see module doc)."""
    current = library_versions()
    for name, version in recorded.items():
        policy = VERSION_POLICY.get(name, "exact")
        here = current.get(name)
        if here is None:
            raise ArtifactError(
                f"library version mismatch: artifact needs {name} {version}, "
                "which is not installed"
            )
        if _significant(here, policy) != _significant(version, policy):
            scope = "exact version" if policy == "exact" else "major.minor version"
            raise ArtifactError(
                f"library version mismatch: artifact was built with {name} "
                f"{version}, this process has {here} ({scope} must match); "
                "retrain the model"
            )


def load_model(
    data: bytes,
    manifest: ArtifactManifest | Mapping[str, Any],
    *,
    expected_training_data_hash: str | None = None,
    signing_key: bytes | None = None,
    fallback_keys: Sequence[bytes] = (),
) -> object:
    """Verify ``data`` against ``manifest`` (module doc) and unpickle it."""
    if not isinstance(manifest, ArtifactManifest):
        manifest = ArtifactManifest.from_dict(manifest)
    if manifest.format_version != FORMAT_VERSION:
        raise ArtifactError(
            f"artifact format_version {manifest.format_version} is not supported "
            f"(this code reads {FORMAT_VERSION})"
        )
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, manifest.sha256):
        raise ArtifactError(
            f"sha256 mismatch: artifact bytes hash to {actual}, manifest says "
            f"{manifest.sha256}; the artifact was modified or corrupted"
        )
    if signing_key is not None:
        if manifest.signature is None:
            raise ArtifactError("signature missing: the manifest is not signed")
        if manifest_signed_by(manifest, [signing_key, *fallback_keys]) is None:
            raise ArtifactError(
                "signature mismatch: the manifest was not written with this key"
                + (" nor a fallback key" if fallback_keys else "")
            )
    check_versions(manifest.library_versions)
    if (
        expected_training_data_hash is not None
        and expected_training_data_hash != manifest.training_data_hash
    ):
        raise ArtifactError(
            f"training data hash mismatch: artifact was trained on "
            f"{manifest.training_data_hash}, expected {expected_training_data_hash}"
        )
    try:
        # Safe only because the bytes were verified against the manifest above.
        return pickle.loads(data)  # noqa: S301
    except AdvancedModeUnavailable as exc:
        # An advanced model loads its sentence encoder, which must be here with
        # the very weights it was trained with (the manifest's params.encoder).
        raise ArtifactDependencyMissing(f"sentence encoder unusable: {exc}") from None
    except StaticVectorsUnavailable as exc:
        # A standard model with static word vectors needs the very table (by
        # sha256) it was trained with (the manifest's params.staticVectors).
        raise ArtifactDependencyMissing(
            f"static word vectors unusable: {exc}"
        ) from None
