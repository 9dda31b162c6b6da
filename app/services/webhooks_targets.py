"""Where a webhook may be sent. A webhook makes this server call a URL someone typed in, so
without rules it is a way to probe the internal network (SSRF). The rules are checked when a
subscription is made AND before every attempt, because what a name resolves to can change.

Redirects are never followed (a redirect to an internal address would undo the check). A name
that changes between the check and the connection (DNS rebinding within a second) is not caught;
networks that need that guarantee put an egress proxy in front."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.config import Settings


class TargetRefused(Exception):
    """The URL breaks a rule; the message says which, in words an admin can act on."""


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"the host '{host}' does not resolve ({exc})") from None
    found = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(address)
    return found


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def check_url_form(url: str, settings: Settings) -> None:
    """The shape of the URL: scheme, host, no credentials. No network access."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise TargetRefused("not a URL") from None
    schemes = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused(
            "the URL must start with https://"
            + ("" if settings.webhook_allow_http else " (http:// is not allowed on this server)")
        )
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username or parts.password:
        raise TargetRefused("the URL must not carry a user name or password")
    if parts.fragment:
        raise TargetRefused("the URL must not have a #fragment")


def check_target(url: str, settings: Settings) -> None:
    """Refuse a URL that breaks the rules: form, then every address its host resolves to."""
    check_url_form(url, settings)
    if settings.webhook_allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in _addresses(host, port):
        if not _public(address):
            raise TargetRefused(
                f"'{host}' resolves to {address}, a loopback, private, link-local or reserved "
                "address; webhooks go to public addresses only on this server"
            )
