"""Outbound HTTP to addresses a tenant chose (webhooks): only to the public internet, unless
the deployment allow-lists an on-prem receiver.

A tenant-supplied URL is an attacker-supplied URL: pointed at ``127.0.0.1``, ``169.254.169.254``
or a cluster service name, the worker would POST from inside the network, and the delivery log
(status code, error) would read back what answered — a port scanner. So a host is resolved
and *every* address it resolves to must be public (:func:`refusal`); numeric encodings
(``0x7f000001``, ``2130706433``, ``0177.0.0.1``), IPv6 forms (``[::1]``, ``::ffff:127.0.0.1``,
6to4 and Teredo wrappers) and names resolving there are all decided on the address they mean,
since the check runs on what the resolver returns.

The check runs at registration and again at every delivery, and the delivery connects to the
address that was checked (:class:`PinnedConnection`): a name whose DNS answer changes between
the check and the connection (DNS rebinding) cannot switch the connection to an internal
address. TLS still verifies the certificate against the host name.

Each POST has a total deadline (a watchdog closes the socket, so a receiver that trickles its
headers a byte at a time cannot hold a worker thread) and reads at most ``max_response_bytes``
of the answer.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses it resolves to; socket.getaddrinfo in production.
Resolver = Callable[[str, int], list[str]]


class EgressRefused(Exception):
    """The destination is not one this deployment sends to; the reason says which rule."""


class EgressFailed(Exception):
    """The destination was allowed but the POST did not complete (connection, TLS, deadline)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (numeric forms included: glibc
    reads ``0x7f000001`` and ``2130706433`` as 127.0.0.1, which is why they are checked after
    resolution and not by parsing the URL)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressFailed(f"the host {host!r} does not resolve ({exc})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form stands for (mapped, 6to4, Teredo, NAT64 well-known), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def non_public(address: IPAddress) -> str | None:
    """Why ``address`` is not on the public internet (loopback, private, ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = non_public(inner)
            return f"{why} (as {address})" if why else None
    for label, test in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                        ("private", address.is_private), ("reserved", address.is_reserved)):
        if test:
            return label
    if not address.is_global:  # shared (100.64/10), documentation, benchmarking ... ranges
        return "reserved"
    return None


@dataclass(frozen=True)
class AllowList:
    """On-prem receivers a deployment trusts despite their internal addresses: networks
    (``10.20.0.0/16``, ``127.0.0.2/32``) match resolved addresses, host names match the
    URL's host exactly (case-insensitive), whatever it resolves to."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, value: str) -> AllowList:
        """``NARRATOR_WEBHOOK_ALLOW``: a comma-separated list of CIDRs, addresses and host names."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in value.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not entry.replace("-", "").replace(".", "").isalnum():
                    raise ValueError(f"NARRATOR_WEBHOOK_ALLOW: {entry!r} is neither a CIDR nor a host name") from None
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def _parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # a scope id (fe80::1%eth0) does not change the range


@dataclass(frozen=True)
class Destination:
    """A checked URL: what to connect to (``address``) and what to call it (``host``)."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    address: str


def check(url: str, allow: AllowList, resolve: Resolver = system_resolver) -> Destination:
    """Resolve ``url``'s host and refuse it unless every address is public or allow-listed.

    Every address, not just the first: a name answering both a public and an internal address
    would otherwise be a coin toss the attacker wins eventually. Returns the destination to
    connect to; raises :class:`EgressRefused` (policy) or :class:`EgressFailed` (no answer)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise EgressFailed(f"the host {host!r} does not resolve")
    if not allow.allows_host(host):
        for text in addresses:
            try:
                address = _parse_address(text)
            except ValueError as exc:
                raise EgressRefused(f"the host {host!r} resolves to {text!r}, not an IP address") from exc
            why = non_public(address)
            if why and not allow.allows_address(address):
                raise EgressRefused(f"the host {host!r} resolves to a {why} address; webhooks are only sent to "
                                    f"public addresses (or to those the deployment allow-lists)")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(parts.scheme, host, port, target, addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self.pinned = destination.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(destination.host, destination.port, timeout=timeout, context=self.tls)
        self.pinned = destination.address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)  # certificate checked for the name


PinnedConnection = _PinnedHTTP | _PinnedHTTPS


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most max_response_bytes of it
    truncated: bool


def post(destination: Destination, body: bytes, headers: dict[str, str], deadline_seconds: float,
         max_response_bytes: int) -> Answer:
    """POST to the pinned address, all of it (connect, TLS, send, headers, body) within
    ``deadline_seconds``; the answer is read up to ``max_response_bytes`` and the rest left
    unread (the connection is closed). No redirects are followed."""
    kind = _PinnedHTTPS if destination.scheme == "https" else _PinnedHTTP
    conn: PinnedConnection = kind(destination, timeout=deadline_seconds)
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/send at once
            except OSError:
                pass

    watchdog = threading.Timer(deadline_seconds, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", destination.target, body=body, headers=headers)
        response = conn.getresponse()
        data = _read_capped(response, max_response_bytes + 1)
        if expired.is_set():  # cut mid-answer: what was read may parse, but it is not the answer
            raise EgressFailed(f"no complete answer within the {deadline_seconds:g} s deadline")
        return Answer(response.status, data[:max_response_bytes], len(data) > max_response_bytes)
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise EgressFailed(f"no complete answer within the {deadline_seconds:g} s deadline") from exc
        raise EgressFailed(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    finally:
        watchdog.cancel()
        conn.close()


def _read_capped(response: http.client.HTTPResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = response.read1(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
