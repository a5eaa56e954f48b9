"""Where a webhook may be sent: public addresses, and the networks settings allow.

A URL is checked when it is subscribed and again before every attempt, because
what a name resolves to can change after it was accepted. Each address the name
resolves to must pass: one private answer is enough to refuse it.

The attempt then connects to the address that was checked, never to what the
name resolves to a moment later: a name that answers a public address to the
check and a private one to the connection (DNS rebinding) reaches nothing.
`pinned_to` names the checked address for the requests made inside it, and
`PinnedNetwork`, the webhook client's only way to open a connection, connects
there and nowhere else. The name still goes in the `Host` header and the TLS
handshake (SNI and the certificate's check), and connections are pooled per name.
"""

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import httpcore

from services.kit.problems import ValidationFailed

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services: the classic prize of a request forgery.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)


class RefusedDestination(ValidationFailed):
    slug, title = "destination-refused", "Webhooks cannot be sent to this address"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail, rule=rule, errors=[{"pointer": "/url", "detail": detail}])


def rule_broken_by(address: IpAddress) -> str | None:
    """The rule an address breaks, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_private or address.is_reserved or address.is_multicast or address.is_unspecified:
        return "private"
    if not address.is_global:  # shared address space (100.64.0.0/10) and the like
        return "private"
    return None


class Destinations:
    def __init__(self, allowed_networks: Iterable[str]) -> None:
        self.allowed: tuple[IpNetwork, ...] = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)

    async def check(self, url: str) -> IpAddress:
        """The address to connect to; `RefusedDestination`, naming the rule, unless every address `url`
        resolves to may be called."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise RefusedDestination("scheme", "A webhook URL must use http or https.")
        if parts.username is not None or parts.password is not None:
            raise RefusedDestination("credentials", "A webhook URL must not carry a user name or password.")
        host = parts.hostname
        if not host:
            raise RefusedDestination("host", "A webhook URL must name a host.")
        addresses = await self._resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        if not addresses:
            raise RefusedDestination("unresolvable", "The webhook host name does not resolve.")
        for address in addresses:
            if any(address in network for network in self.allowed):
                continue
            if (rule := rule_broken_by(address)) is not None:
                raise RefusedDestination(
                    rule, f"The webhook host resolves to a {rule} address ({address}), which is not allowed."
                )
        return addresses[0]

    @staticmethod
    async def _resolve(host: str, port: int) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise RefusedDestination("unresolvable", "The webhook host name does not resolve.") from error
        # The zone of a scoped IPv6 address (fe80::1%eth0) is not part of the address.
        return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in answers]


# The address the current attempt was checked against; every connection it opens goes there.
_checked_address: ContextVar[IpAddress | None] = ContextVar("checked_address", default=None)


@contextlib.contextmanager
def pinned_to(address: IpAddress) -> Iterator[None]:
    """Connections opened inside (in this task) go to `address`, whatever name the URL gives."""
    token = _checked_address.set(address)
    try:
        yield
    finally:
        _checked_address.reset(token)


class PinnedNetwork(httpcore.AsyncNetworkBackend):
    """Opens a connection only to the address `pinned_to` names: without one, none.

    Written here because httpx resolves names itself with no hook to hand it an address; httpcore's network
    backend is the seam where a connection is opened, below TLS and connection pooling, which stay httpx's.
    """

    def __init__(self) -> None:
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = _checked_address.get()
        if address is None:
            raise httpcore.ConnectError("no checked address to connect to")
        return await self._network.connect_tcp(str(address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)
