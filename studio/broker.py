"""The embedded broker: kombu's filesystem transport, with whole-file publishing.

Why: kombu's filesystem transport (5.7) creates a message file under its final name
and writes the bytes after; a consumer polling at that moment moves the still-empty
file away, fails to decode it (``JSONDecodeError``, kombu issue #1551) and the
message is gone: the worker crashed, was restarted, and the job it carried waited
as "Not Started" forever. The exchange table that routes every publish is created
the same way.

So, on the ``filesystem://`` broker (settings: ``CELERY_BROKER_TRANSPORT``):

* A message is written to a hidden temporary file in the queue folder (same file
  system), flushed to disk, then renamed to its message name: readers see the
  whole message or nothing. An exchange table is created the same way.
* A consumer reads and decodes a message file before it claims it, and claims it
  by deleting it (only one consumer's delete succeeds). A file that does not decode
  (a writer outside the studio still writing it, or one that died half-way) is left
  where it is and retried at the next poll; after ``HALF_WRITTEN_GRACE_SECONDS`` it
  is moved to the ``rejected`` folder beside the messages, with an error in the
  log, instead of crashing the worker. (The job it carried is re-sent by the
  workers' sweep: ``jobs.services.jobs_redispatch_lost``.)

Everything else (names, ordering by time, folders, options) is kombu's, so queued
messages survive an upgrade in both directions. Redis and AMQP brokers are not
affected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# Settings value of CELERY_BROKER_TRANSPORT for a filesystem:// broker URL.
TRANSPORT_PATH = "studio.broker:FilesystemTransport"
# A message file that still does not decode this long after it was last written
# will not be completed: its writer died.
HALF_WRITTEN_GRACE_SECONDS = 30.0
# Subfolder of the queue folder for such files (kept for a look, never read again).
REJECTED_FOLDER = "rejected"
# Temporary files start with this: kombu matches "<name>.<queue>.msg" after the first
# dot, which a name ending in ".tmp" never does, so no consumer picks one up.
_TEMP_PREFIX = ".publishing-"


def _write_whole(folder: str, final_name: str, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``folder/final_name`` so that the name only ever shows the
    whole content. ``replace=False`` keeps a file another process created first
    (raises ``FileExistsError``)."""
    temp = os.path.join(folder, f"{_TEMP_PREFIX}{uuid.uuid4().hex}.tmp")
    final = os.path.join(folder, final_name)
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
            handle.flush()
            # A power cut must not leave an empty message under its final name.
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, final)
        else:
            os.link(temp, final)  # fails if it exists: the first creator wins
    finally:
        _remove_quietly(temp)  # gone already after a replace


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


class Channel(filesystem.Channel):
    """kombu's filesystem channel with whole-file writes and tolerant reads."""

    # Signatures as kombu's filesystem channel has them (its stub ignores the same
    # mismatch with the abstract channel).
    def _put(  # type: ignore[override]
        self, queue: str, payload: dict[str, Any], **kwargs: Any
    ) -> None:
        """Put ``payload`` on ``queue``: one file, named as kombu names it (the
        time first, so consumers take messages in order)."""
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        try:
            _write_whole(
                self.data_folder_out,
                name,
                str_to_bytes(dumps(payload)),
                replace=True,
            )
        except OSError as exc:
            raise ChannelError(
                f"Cannot add file {name!r} to directory {self.data_folder_out!r}"
            ) from exc

    def _get(self, queue: str) -> dict[str, Any]:  # type: ignore[override]
        """The oldest whole message of ``queue``; ``Empty`` when there is none."""
        suffix = f"{queue}.msg"
        folder = self.data_folder_in
        for filename in sorted(os.listdir(folder)):
            if filename.partition(".")[2] != suffix:
                continue
            path = os.path.join(folder, filename)
            try:
                with open(path, "rb") as handle:
                    payload = handle.read()
                    written_at = os.fstat(handle.fileno()).st_mtime
            except FileNotFoundError:
                continue  # another consumer took it
            except OSError as exc:
                raise ChannelError(f"Cannot read file {path!r} from queue.") from exc
            try:
                message: dict[str, Any] = loads(bytes_to_str(payload))
            except ValueError:  # JSONDecodeError, UnicodeDecodeError
                self._not_whole(path, filename, written_at)
                continue
            try:
                # The claim: of concurrent consumers, exactly one delete succeeds.
                os.remove(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ChannelError(f"Cannot remove file {path!r} from queue.") from exc
            if self.store_processed:
                self._keep_processed(filename, payload)
            return message
        raise Empty()

    def _not_whole(self, path: str, filename: str, written_at: float) -> None:
        """A message file that does not decode: wait for its writer, or set it
        aside once its writer is clearly gone."""
        if time.time() - written_at < HALF_WRITTEN_GRACE_SECONDS:
            return
        rejected = os.path.join(self.data_folder_in, REJECTED_FOLDER)
        os.makedirs(rejected, exist_ok=True)
        try:
            os.rename(path, os.path.join(rejected, filename))
        except FileNotFoundError:
            return  # another consumer set it aside, or its writer replaced it
        logger.error(
            "Set aside broker message file %s: it is not a whole message %d s "
            "after it was last written (its writer died); moved to %s. A job it "
            "carried is sent again by the workers' sweep.",
            filename,
            int(HALF_WRITTEN_GRACE_SECONDS),
            rejected,
        )

    def _keep_processed(self, filename: str, payload: bytes) -> None:
        try:
            with open(os.path.join(self.processed_folder, filename), "wb") as handle:
                handle.write(payload)
        except OSError:
            logger.warning("Could not keep processed message %s.", filename)

    def _queue_bind(
        self, exchange: str, routing_key: str, pattern: str | None, queue: str
    ) -> None:
        """Bind as kombu does, but create a missing exchange table whole first:
        kombu creates it empty and fills it after, and a publisher reading it in
        between crashed (and lost its message)."""
        # kombu's check of the name (not in its stub): no path tricks.
        file = self._exchange_file(exchange)  # type: ignore[attr-defined]
        if not file.exists():
            self.control_folder.mkdir(parents=True, exist_ok=True)
            try:
                _write_whole(
                    str(self.control_folder),
                    file.name,
                    str_to_bytes(dumps([])),
                    replace=False,
                )
            except FileExistsError:
                pass  # another process created it first: kombu updates it under lock
            except OSError as exc:
                raise ChannelError(f"Cannot create {file}") from exc
        super()._queue_bind(exchange, routing_key, pattern, queue)


class FilesystemTransport(filesystem.Transport):
    """kombu's filesystem transport with the channel above."""

    Channel = Channel
