"""Which network addresses an orchestration target (an external LUIS or HTTP endpoint
that the runtime calls on behalf of any caller allowed to predict) may point at.

The rule (README, "Security"): only public addresses. Loopback, private (RFC 1918,
IPv6 unique-local), link-local (cloud metadata at 169.254.169.254), CGNAT
(100.64.0.0/10), unspecified, multicast, broadcast and reserved ranges are refused,
IPv4 and IPv6, including IPv4 addresses embedded in IPv6 ones (``::ffff:a.b.c.d``,
``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4, Teredo). Every spelling of an address
(``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``) is covered because the
check runs on what the name *resolves to*, not on how it is written. An admin
allows a private target by naming its host, address or network in
``STUDIO_TARGET_ALLOWED_HOSTS``.

The runtime resolves a name once, checks every address and connects to a checked
address (``runtime/targets.py``), so a DNS answer that changes between the
check and the connection (rebinding) cannot slip through. The authoring side uses
``literal_host_error`` to refuse, when a link is saved, a URL whose host *is* a
refused address (it resolves no names: DNS may differ between authoring and serving).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Allowlist = tuple[frozenset[str], tuple[IPNetwork, ...]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4,
    Teredo client), which is where the packet really goes."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    packed = ip.packed
    if ip in _NAT64 or (packed[:12] == bytes(12) and int(ip) > 1):
        return ipaddress.IPv4Address(packed[12:])
    return None


def address_is_public(ip: IPAddress) -> bool:
    """True for an address a target may use without being allowlisted."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not address_is_public(embedded):
            return False
    return not (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or getattr(ip, "is_site_local", False)
    )


@functools.lru_cache(maxsize=8)
def _allowlist(entries: tuple[str, ...]) -> Allowlist:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in entries:
        text = entry.strip().strip("[]")
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            names.add(text.lower().rstrip("."))
    return frozenset(names), tuple(networks)


def allowed_entries() -> Allowlist:
    """``STUDIO_TARGET_ALLOWED_HOSTS`` as (host names, networks), read at call time."""
    return _allowlist(tuple(getattr(settings, "STUDIO_TARGET_ALLOWED_HOSTS", ())))


def host_is_allowlisted(host: str) -> bool:
    names, _networks = allowed_entries()
    return host.lower().rstrip(".") in names


def address_is_allowed(host: str, address: str) -> bool:
    """May a target named ``host`` be reached at the resolved ``address``?"""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if address_is_public(ip):
        return True
    if host_is_allowlisted(host):
        return True
    _names, networks = allowed_entries()
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(
        c in net for c in candidates for net in networks if c.version == net.version
    )


def refused_addresses(host: str, addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if not address_is_allowed(host, a)]


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host *is*, in any spelling the resolver accepts
    (``127.1``, ``0x7f000001``, ``2130706433``, ``[::1]``), or None for a name."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(
            text, None, proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST
        )
    except (OSError, UnicodeError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0])


def literal_host_error(host: str) -> str | None:
    """Why a link may not name ``host`` (an address or a local name that is not
    public and not allowlisted), or None. Names are checked again, resolved, at
    call time."""
    lowered = host.lower().rstrip(".")
    if host_is_allowlisted(lowered):
        return None
    address = literal_address(lowered)
    local_name = lowered in _LOCAL_NAMES or lowered.endswith(".localhost")
    if local_name or (
        address is not None and not address_is_allowed(lowered, str(address))
    ):
        return (
            f"The endpoint host {host!r} is a local or private address; the studio "
            "calls only public addresses unless an administrator allows the host "
            "in STUDIO_TARGET_ALLOWED_HOSTS."
        )
    return None
