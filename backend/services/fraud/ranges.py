"""Network ranges for clustering: an address's /24 (IPv4) or /48 (IPv6), pure."""

from __future__ import annotations

import ipaddress

IPV4_PREFIX, IPV6_PREFIX = 24, 48


def network_range(address: str | None) -> str | None:
    """Return the /24 (IPv4) or /48 (IPv6) network of an address; None when unparseable.

    An IPv4 address mapped into IPv6 (::ffff:a.b.c.d) counts as the IPv4 address.
    """
    if not address:
        return None
    octets = address.strip().split(".")
    if len(octets) == 4 and all(plain_octet(octet) for octet in octets):  # the common case
        return f"{octets[0]}.{octets[1]}.{octets[2]}.0/{IPV4_PREFIX}"
    return parsed_range(address)


def parsed_range(address: str) -> str | None:
    """Return an address's range as the ipaddress module reads it (any form it accepts)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def plain_octet(text: str) -> bool:
    """Tell whether `text` is a decimal octet as ipaddress reads one (0-255, no leading 0)."""
    return (0 < len(text) <= 3 and text.isascii() and text.isdigit() and int(text) <= 255
            and (text == "0" or text[0] != "0"))
