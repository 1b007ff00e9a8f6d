"""The backup archive: a zip file of members and a ``manifest.json`` describing them.

Members:

* ``data/<app>.<model>.jsonl``: one table. The first line is a header
  (``{"model": ..., "fields": [attname, ...]}``), every other line one row as a JSON
  array in that order: primary keys as they were, foreign keys as ids, dates and times
  in ISO 8601 with microseconds, JSON fields as JSON. Vendor-neutral, so an archive
  made on SQLite restores into PostgreSQL and the other way round.
* ``refs/contenttypes.json``, ``refs/permissions.json``: the ids of content types and
  permissions with their natural keys; the target recreates both when it migrates, so
  references to them are restored by natural key.
* ``media/<storage name>``: the files the rows reference (model artifacts, model
  snapshots, replaced-project copies, export results).
* ``vectors/<sha256>/<file name>``: the static word vector tables the stored models
  were trained with (``STUDIO_STATIC_VECTORS``, outside the media storage: one table
  serves every model, and a rebuild elsewhere need not be byte-identical, so a
  model could not load without the very file). Added in format version 2.

``manifest.json`` names the format, the studio version, the database vendor, the
migrations applied, when it was made, a fingerprint of ``SECRET_KEY`` and the sha256
and size of every other member; ``archive_verify`` checks all of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings

FORMAT = "orchestration-studio-backup"
FORMAT_VERSION = 2
#: Versions this studio restores (1: no ``vectors/`` members).
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
DATA_PREFIX = "data/"
REFS_PREFIX = "refs/"
MEDIA_PREFIX = "media/"
VECTORS_PREFIX = "vectors/"
CONTENT_TYPES = f"{REFS_PREFIX}contenttypes.json"
PERMISSIONS = f"{REFS_PREFIX}permissions.json"
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def secret_key_fingerprint(secret_key: str) -> str:
    """A short, one-way tag of ``secret_key``: tells whether two studios share it
    without the archive carrying the key."""
    return hmac.new(
        secret_key.encode("utf-8"), b"orchestration-studio backup", hashlib.sha256
    ).hexdigest()[:16]


def current_fingerprints() -> dict[str, str]:
    """Fingerprint -> key, for ``SECRET_KEY`` and each of ``SECRET_KEY_FALLBACKS``."""
    keys = [str(settings.SECRET_KEY), *map(str, settings.SECRET_KEY_FALLBACKS)]
    return {secret_key_fingerprint(key): key for key in reversed(keys)}


def data_member(label: str) -> str:
    return f"{DATA_PREFIX}{label}.jsonl"


def media_member(name: str) -> str:
    return f"{MEDIA_PREFIX}{name}"


def vectors_member(sha256: str, file_name: str) -> str:
    return f"{VECTORS_PREFIX}{sha256}/{file_name}"


class _HashingWriter:
    """Counts and hashes what goes into a zip member."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.size += len(data)


@dataclass
class ArchiveWriter:
    """Writes members and remembers their sha256 for the manifest."""

    zip: zipfile.ZipFile
    members: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _open(self, name: str) -> IO[bytes]:
        info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return self.zip.open(info, "w", force_zip64=True)

    def _record(self, name: str, writer: _HashingWriter) -> None:
        self.members[name] = {"sha256": writer.digest.hexdigest(), "size": writer.size}

    def write_bytes(self, name: str, data: bytes) -> None:
        with self._open(name) as out:
            writer = _HashingWriter(out)
            writer.write(data)
        self._record(name, writer)

    def write_stream(self, name: str, source: IO[bytes]) -> None:
        with self._open(name) as out:
            writer = _HashingWriter(out)
            while chunk := source.read(_CHUNK):
                writer.write(chunk)
        self._record(name, writer)

    def write_lines(self, name: str, lines: Iterator[bytes]) -> None:
        with self._open(name) as out:
            writer = _HashingWriter(out)
            for line in lines:
                writer.write(line)
        self._record(name, writer)


def _damaged(path: Path, problem: str) -> BackupError:
    return BackupError(
        f"The archive {path} is damaged or not a studio backup: {problem}. "
        "Nothing was restored."
    )


def archive_verify(path: Path) -> dict[str, Any]:
    """Open the archive and check it whole: the manifest, and every member's size and
    sha256 against it (no member missing, none unlisted). Returns the manifest."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BackupError(f"There is no file {path}.") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise _damaged(path, f"not a readable zip file ({exc})") from exc
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except KeyError:
            raise _damaged(path, f"it has no {MANIFEST}") from None
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise _damaged(path, f"{MANIFEST} cannot be read ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _damaged(path, f"{MANIFEST} does not name the format {FORMAT!r}")
        if manifest.get("formatVersion") not in READABLE_VERSIONS:
            raise BackupError(
                f"The archive {path} has format version "
                f"{manifest.get('formatVersion')!r}; this studio reads versions "
                f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]}. Restore it with "
                "the studio version that made it "
                f"({manifest.get('studioVersion', 'unknown')}) or a newer one."
            )
        members = manifest.get("members")
        if not isinstance(members, Mapping):
            raise _damaged(path, f"{MANIFEST} lists no members")
        present = set(archive.namelist()) - {MANIFEST}
        missing = sorted(set(members) - present)
        if missing:
            raise _damaged(path, f"member {missing[0]} is missing")
        for name in members:
            parts = name.split("/")
            if (
                not name.startswith(
                    (DATA_PREFIX, REFS_PREFIX, MEDIA_PREFIX, VECTORS_PREFIX)
                )
                or ".." in parts
                or "" in parts
                or "\\" in name
            ):
                raise _damaged(path, f"member name {name!r} is not allowed")
        unlisted = sorted(present - set(members))
        if unlisted:
            raise _damaged(path, f"member {unlisted[0]} is not in the manifest")
        for name, expected in members.items():
            digest = hashlib.sha256()
            size = 0
            try:
                with archive.open(name) as member:
                    while chunk := member.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _damaged(path, f"member {name} cannot be read ({exc})") from exc
            if not isinstance(expected, Mapping) or (
                digest.hexdigest() != expected.get("sha256")
                or size != expected.get("size")
            ):
                raise _damaged(path, f"member {name} does not match its sha256")
    return manifest


def read_json(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


def read_rows(
    archive: zipfile.ZipFile, name: str
) -> tuple[dict[str, Any], Iterator[list[Any]]]:
    """The header and the rows of a table member."""
    handle = archive.open(name)
    header = json.loads(handle.readline())

    def rows() -> Iterator[list[Any]]:
        with handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    return header, rows()
