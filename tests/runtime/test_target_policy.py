"""The SSRF policy of external orchestration targets (``runtime/targets.py``):
resolve once, refuse every non-public address in every spelling unless
``STUDIO_TARGET_ALLOWED_HOSTS`` names it, connect to the resolved address (Host
header of the original name), and one generic error text for every connection
failure, so that the runtime cannot be used as a port scanner."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runtime.targets import TargetError, external_call
from training.engine.bundles import TargetSpec

UNREACHABLE = ("ServiceUnavailable", "The target endpoint could not be reached.")


class Server:
    """A loopback HTTP server that records what it is asked."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None):
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner.requests.append({"headers": dict(self.headers)})
                body = b'{"answer": 42}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    made = Server()
    yield made
    made.close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing TCP connection attempt (they still go through)."""
    attempts: list[Any] = []
    real = socket.create_connection

    def recording(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording)
    return attempts


def call(url: str, **headers: str) -> Any:
    spec = TargetSpec(kind="Http", url=url, headers=headers)
    return external_call(spec, text="hi", language="en", parameters={}, timeout=2)


def failure(url: str) -> tuple[str, str]:
    with pytest.raises(TargetError) as caught:
        call(url)
    return caught.value.code, caught.value.message


LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "localhost",  # a name from the hosts file
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "[::ffff:127.0.0.1]",
    "[::1]",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_without_connecting(
    host: str, server: Server, connections: list[Any]
) -> None:
    assert failure(f"http://{host}:{server.port}/predict") == UNREACHABLE
    assert connections == []
    assert server.requests == []


@pytest.mark.parametrize(
    "host",
    [
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # CGNAT
        "0.0.0.0",  # noqa: S104 - a target address, not a bind
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "[fd00::1]",  # unique local
        "[fe80::1]",  # link-local
        "[ff02::1]",  # multicast
        "[::]",
        "[::ffff:10.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[::127.0.0.1]",  # IPv4-compatible
    ],
)
def test_private_and_reserved_ranges_are_refused_without_connecting(
    host: str, connections: list[Any]
) -> None:
    assert failure(f"http://{host}:8080/predict") == UNREACHABLE
    assert connections == []


def test_a_name_resolving_to_a_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, connections: list[Any]
) -> None:
    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert failure("https://bot.example.com/predict") == UNREACHABLE
    assert connections == []


def test_every_connection_failure_reads_the_same(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed port, a port speaking another protocol (Redis, SSH), a name that does
    not resolve and a refused address: one text, so ports cannot be told apart."""
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    banner = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = banner.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"-ERR unknown command 'POST'\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        results = {
            "closed": failure(f"http://127.0.0.1:{closed_port}/x"),
            "redis-like": failure(f"http://127.0.0.1:{banner.getsockname()[1]}/x"),
            "no such name": failure("http://no-such-host.invalid/x"),
            "refused": failure("http://10.0.0.1/x"),
        }
    finally:
        banner.close()
    assert set(results.values()) == {UNREACHABLE}, results


@pytest.mark.parametrize(
    "allowed", [["127.0.0.1"], ["127.0.0.0/8"], ["LOCALHOST"], ["::1", "localhost"]]
)
def test_the_allowlist_lets_an_admin_named_private_target_through(
    settings: Any, server: Server, allowed: list[str]
) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = allowed
    host = "localhost" if any("localhost" in a.lower() for a in allowed) else None
    url = f"http://{host or '127.0.0.1'}:{server.port}/predict"
    assert call(url) == {"answer": 42}


def test_the_allowlist_names_only_what_it_names(
    settings: Any, server: Server, connections: list[Any]
) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["10.0.0.0/8", "bot.internal"]
    assert failure(f"http://127.0.0.1:{server.port}/predict") == UNREACHABLE
    assert connections == []


def test_the_name_is_resolved_once_and_the_resolved_address_is_called(
    settings: Any, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No DNS-rebinding window: the check and the connection use one answer, and the
    target still sees the name it was configured with."""
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    lookups: list[str] = []
    answers = iter(["127.0.0.1", "10.9.9.9"])
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "bot.example.com":  # the numeric address connected to
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert call(f"http://bot.example.com:{server.port}/predict") == {"answer": 42}
    assert lookups == ["bot.example.com"]
    (request,) = server.requests
    assert request["headers"]["Host"] == f"bot.example.com:{server.port}"


def test_a_redirect_to_a_private_address_is_not_followed(settings: Any) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    inner = Server()
    outer = Server(
        status=302, headers={"Location": f"http://10.0.0.1:{inner.port}/steal"}
    )
    try:
        with pytest.raises(TargetError) as caught:
            call(f"http://127.0.0.1:{outer.port}/predict")
    finally:
        outer.close()
        inner.close()
    assert caught.value.code == "InternalServerError"
    assert "302" in caught.value.message
    assert inner.requests == []


def test_the_details_of_a_failure_go_to_the_server_log_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert failure("http://127.0.0.1:9/x") == UNREACHABLE
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1" in logged and "refused" in logged.lower()


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_tls_is_verified_for_the_configured_name_not_the_address(
    settings: Any, server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The connection goes to the checked address, but SNI and the certificate
    check use the name the link names (a certificate for the name is accepted)."""
    import ssl

    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]
    cert, key = _self_signed(tmp_path, "bot.example.com")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.server.socket = server_context.wrap_socket(
        server.server.socket, server_side=True
    )
    trusting = ssl.create_default_context(cafile=cert)
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: trusting)
    real = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "bot.example.com":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    assert call(f"https://bot.example.com:{server.port}/predict") == {"answer": 42}
    # The same server under another name fails the certificate check: unreachable.
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: resolve("bot.example.com", port),
    )
    assert failure(f"https://other.example.com:{server.port}/predict") == UNREACHABLE
