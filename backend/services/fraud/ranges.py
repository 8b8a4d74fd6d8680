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
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
