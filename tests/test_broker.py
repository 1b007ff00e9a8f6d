"""The embedded broker (studio/broker.py): a message file is either whole or not
there, and a consumer never crashes on a file another process is still writing."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from studio import broker

TRANSPORT: Any = broker.FilesystemTransport


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    names = {
        "data_folder_in": tmp_path / "out",
        "data_folder_out": tmp_path / "out",
        "processed_folder": tmp_path / "processed",
        "control_folder": tmp_path / "control",
    }
    for folder in names.values():
        folder.mkdir(exist_ok=True)
    return names


def open_channel(folders: dict[str, Path], **options: Any) -> Iterator[Any]:
    connection = Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            **{key: str(value) for key, value in folders.items()},
            **options,
        },
    )
    try:
        yield connection.default_channel
    finally:
        connection.release()


@pytest.fixture
def channel(folders: dict[str, Path]) -> Iterator[Any]:
    yield from open_channel(folders)


@pytest.fixture
def reader(folders: dict[str, Path]) -> Iterator[Any]:
    """A second connection: another process's consumer."""
    yield from open_channel(folders)


def message_file(folder: Path, queue: str, content: bytes, *, age: float = 0) -> Path:
    """A file named as kombu names a message of ``queue``."""
    stamp = int(time.monotonic() * 1000)
    path = folder / f"{stamp}_{uuid.uuid4()}.{queue}.msg"
    path.write_bytes(content)
    if age:
        old = time.time() - age
        os.utime(path, (old, old))
    return path


def queued(folder: Path, queue: str) -> list[Path]:
    return sorted(folder.glob(f"*.{queue}.msg"))


def test_a_published_message_is_read_back_once(channel: Any, reader: Any) -> None:
    channel._put("long", {"body": "job-1"})
    assert reader._get("long") == {"body": "job-1"}
    with pytest.raises(Empty):
        reader._get("long")
    with pytest.raises(Empty):
        channel._get("long")


def test_an_empty_message_file_is_skipped_not_fatal_and_read_once_written(
    reader: Any, folders: dict[str, Path]
) -> None:
    # kombu issue 1551: the writer created the file and has not written it yet.
    path = message_file(folders["data_folder_out"], "long", b"")
    with pytest.raises(Empty):
        reader._get("long")
    assert path.exists()  # left for the writer to finish, not consumed and lost
    path.write_bytes(b'{"body": "late"}')
    assert reader._get("long") == {"body": "late"}
    assert not path.exists()


def test_a_half_written_message_is_skipped_and_the_next_one_is_delivered(
    channel: Any, reader: Any, folders: dict[str, Path]
) -> None:
    half = message_file(folders["data_folder_out"], "long", b'{"body": "ha')
    channel._put("long", {"body": "whole"})
    assert reader._get("long") == {"body": "whole"}
    assert half.exists()
    with pytest.raises(Empty):
        reader._get("long")


def test_a_message_file_still_unreadable_after_the_grace_period_is_set_aside(
    reader: Any, folders: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # A writer that died half-way: nothing will ever complete it.
    broken = message_file(
        folders["data_folder_out"],
        "long",
        b"",
        age=broker.HALF_WRITTEN_GRACE_SECONDS + 5,
    )
    with caplog.at_level(logging.ERROR, logger="studio.broker"), pytest.raises(Empty):
        reader._get("long")
    assert not broken.exists()
    rejected = folders["data_folder_out"] / broker.REJECTED_FOLDER / broken.name
    assert rejected.exists()
    assert broken.name in caplog.text
    with pytest.raises(Empty):  # and it is not looked at again
        reader._get("long")


def watch_file_creation(monkeypatch: pytest.MonkeyPatch, on_create: Any) -> None:
    """Run ``on_create`` right after the transport creates a file (opens it with
    ``w`` or ``x``), before anything is written to it: the moment of kombu issue
    1551. Opens for reading or for an update under kombu's lock are left alone."""
    real_open = open
    real_path_open = Path.open

    def created(handle: Any, mode: str) -> Any:
        if set(mode) & {"w", "x"}:
            on_create()
        return handle

    def watched_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return created(real_open(file, mode, *args, **kwargs), mode)

    def watched_path_open(
        self: Path, mode: str = "r", *args: Any, **kwargs: Any
    ) -> Any:
        return created(real_path_open(self, mode, *args, **kwargs), mode)

    module = TRANSPORT.Channel._put.__module__
    monkeypatch.setattr(f"{module}.open", watched_open, raising=False)
    monkeypatch.setattr(Path, "open", watched_path_open)


def outcome(read: Any) -> Any:
    try:
        return read()
    except Empty:
        return "nothing yet"
    except Exception as exc:  # noqa: BLE001 - the crash is what is tested
        return exc


def test_no_reader_sees_a_message_file_before_its_bytes_are_written(
    channel: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader polls between the file's creation and its content: it finds
    nothing (the message is not published yet), not an empty file."""
    seen: list[Any] = []
    watch_file_creation(
        monkeypatch, lambda: seen.append(outcome(lambda: reader._get("long")))
    )
    channel._put("long", {"body": "job-2"})
    monkeypatch.undo()

    assert seen and all(item == "nothing yet" for item in seen), seen
    assert reader._get("long") == {"body": "job-2"}


def test_no_temporary_file_is_left_when_a_publish_fails(
    channel: Any, folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(broker.os, "fsync", full_disk)
    with pytest.raises(Exception, match="Cannot add"):
        channel._put("long", {"body": "job-3"})
    assert list(folders["data_folder_out"].iterdir()) == []


def test_concurrent_publishers_and_consumers_deliver_every_message_once(
    folders: dict[str, Path],
) -> None:
    count = 150
    received: list[Any] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def publish() -> None:
        for channel in open_channel(folders):
            for number in range(count):
                channel._put("short", {"n": number})

    def consume() -> None:
        for channel in open_channel(folders):
            while not done.is_set() or queued(folders["data_folder_out"], "short"):
                try:
                    received.append(channel._get("short")["n"])
                except Empty:
                    time.sleep(0.001)
                except Exception as exc:  # noqa: BLE001 - collected, asserted below
                    errors.append(exc)
                    return

    consumers = [threading.Thread(target=consume) for _ in range(2)]
    for thread in consumers:
        thread.start()
    publish()
    done.set()
    for thread in consumers:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(received) == list(range(count))


def test_the_exchange_table_is_never_read_empty_while_first_written(
    channel: Any, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A publisher routes every message through this table: reading it while the
    # first bind creates it crashed the same way, and lost that message.
    seen: list[Any] = []
    watch_file_creation(
        monkeypatch, lambda: seen.append(outcome(lambda: reader.get_table("studio")))
    )
    channel._queue_bind("studio", "long", None, "long")
    monkeypatch.undo()

    assert all(item == [] for item in seen), seen
    assert [entry.queue for entry in reader.get_table("studio")] == ["long"]
