"""Addresses as text in the store: one written form per address, and a source's network.

Addresses stay text in every table (what was logged, and what SQL users compare with); what needs
to know that `::ffff:10.1.2.3` is 10.1.2.3, or that two IPv6 addresses share a /64, parses each
distinct value once with `ipaddress` here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import polars as pl

#: The prefix an IPv6 source is counted by: one host's, or one customer's, smallest allocation.
IPV6_SOURCE_PREFIX = 64

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def rewrite_ipv6(column: pl.Series, rewrite: Callable[[Address], str | None]) -> pl.Series:
    """column with each value holding a colon that parses as an address replaced by `rewrite(address)`
    (None: kept as it is). Each distinct value is parsed once; nothing else is touched."""
    text = column.cast(pl.String)
    colon = text.str.contains(":", literal=True).fill_null(False)
    if not colon.any():
        return text
    where = colon.arg_true()
    found = text.gather(where)
    mapping: dict[str, str] = {}
    for value in found.unique().to_list():
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            continue
        written = rewrite(address)
        if written is not None and written != value:
            mapping[value] = written
    # only the rows holding a colon are looked up: a night's web requests are mostly IPv4 (replacing
    # over all of 5M requests took 0.75-1.1 s, a twentieth of them IPv6)
    return text.scatter(where, found.replace(mapping)) if mapping else text


def _canonical(address: Address) -> str:
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped) if mapped is not None else address.compressed


def canonical(column: pl.Series) -> pl.Series:
    """IPv6 addresses in their one written form (compressed, lowercase), IPv4-mapped ones as the IPv4
    address they are; anything that is not an address stays as it is.

    A server on a dual-stack socket (Java servers, some Apache and IIS setups, appliances) logs an
    IPv4 client as `::ffff:10.1.2.3`, and devices write IPv6 uncompressed or in capitals
    (`2001:0DB8:0000:...:0001`). As logged, such a client fell outside the ranges that compare
    text (the inventory's single addresses, compliance's and hunt's lookups) and one host counted
    as several sources.
    """
    return rewrite_ipv6(column, _canonical)


def _network(address: Address, prefix: int) -> str | None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None or address.version == 4:
        return str(mapped or address)
    if getattr(address, "scope_id", None):  # fe80::1%eth0: a link's, kept as it is
        return None
    mask = (1 << 128) - (1 << (128 - prefix))
    return f"{ipaddress.IPv6Address(int(address) & mask).compressed}/{prefix}"


def networks(addresses: pl.Series, prefix: int = IPV6_SOURCE_PREFIX) -> pl.Series:
    """Each address's network: an IPv4 address itself, an IPv6 address's /64 (`2001:db8:1:2::/64`).

    Every IPv6 host is given a /64 and may use any address in it, so an attacker can send each
    password guess or probe from an address of its own: counted per address, a brute force, a
    spray, a scan or a flood never reaches a threshold, and each address is an incident of its own.
    Rate limiters count IPv6 clients by /64 for the same reason. An IPv4 address is one host (or
    one NAT) and stays as it is, as does what is no address; an IPv4-mapped address
    (`::ffff:10.1.2.3`) is the IPv4 host it names.
    """
    return rewrite_ipv6(addresses, lambda address: _network(address, prefix))


def network_of(value: str) -> str:
    """networks() of one address (a value typed by a person: `hunt --ip`)."""
    return networks(pl.Series([value], dtype=pl.String))[0]


# ------------------------------------------------------------------------------------------------
# Address tests as Polars expressions (rules' |cidr, the allowlist, the inventory's ranges)
# ------------------------------------------------------------------------------------------------


def ipv4_number(column: pl.Expr) -> pl.Expr:
    """A dotted IPv4 address (text) as an integer; null for anything else (IPv6, names, junk)."""
    text = column.cast(pl.String)
    octets = text.str.split_exact(".", 3)
    value = pl.sum_horizontal(octets.struct.field(f"field_{i}").cast(pl.Int64, strict=False) * (256 ** (3 - i))
                              for i in range(4))
    return pl.when(text.str.contains(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$")).then(value)


def ipv6_digits(column: pl.Expr) -> pl.Expr:
    """An IPv6 address (text, compressed or not, any case) as its 32 hex digits; null for anything else.

    Equal-length digit strings compare as the numbers they write, so a range test is two string
    comparisons. Written text cannot be compared by prefix: `2001:db8::5` is in `2001:db8::/64` but
    does not start with `2001:db8:0:0:`, the zeros `::` stands for. A dotted IPv4 tail
    (`64:ff9b::1.2.3.4`) is not read: ingest stores such addresses in hex or as the IPv4 address.

    Only the values holding a colon are read: the list operations cost 1.4 s per 800k addresses,
    which for a night's firewall events, mostly IPv4, was most of detection's time once the network
    rules named IPv6 ranges.
    """
    return column.cast(pl.String).map_batches(_ipv6_digits, return_dtype=pl.String, is_elementwise=True)


def _ipv6_digits(text: pl.Series) -> pl.Series:
    colon = text.str.contains(":", literal=True).fill_null(False)
    out = pl.Series(text.name, dtype=pl.String).extend_constant(None, text.len())
    if not colon.any():
        return out
    where = colon.arg_true()
    found = text.gather(where).to_frame("v").select(_digits(pl.col("v"))).to_series()
    return out.scatter(where, found)


def _digits(column: pl.Expr) -> pl.Expr:
    text = column.str.to_lowercase()
    halves = text.str.split_exact("::", 1)
    left, right = halves.struct.field("field_0"), halves.struct.field("field_1")

    def groups(part: pl.Expr) -> pl.Expr:
        return pl.when(part == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(part.str.split(":"))

    def digits(hextets: pl.Expr) -> pl.Expr:
        return hextets.list.eval(pl.element().str.zfill(4)).list.join("")

    before, after = groups(left), groups(right)
    zeros = 8 - before.list.len() - after.list.len()  # the hextets `::` stands for: at least one
    full = (pl.when(right.is_null()).then(digits(text.str.split(":")))
            .otherwise(pl.concat_str([digits(before), pl.lit("").str.zfill(zeros.clip(0) * 4), digits(after)])))
    well_formed = (text.str.contains(r"^[0-9a-f:]+$") & ~text.str.contains(r"[0-9a-f]{5}|:::|::.*::|^:[^:]|[^:]:$")
                   & (right.is_null() | (zeros >= 1)))
    return pl.when(well_formed & full.str.contains(r"^[0-9a-f]{32}$")).then(full)


def in_network(column: pl.Expr, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> pl.Expr:
    """Addresses (text) inside a CIDR range, compared numerically; text that is no address never matches.

    IPv4 is compared as integers built from the four octets (ASCII digits, as in PCRE's `\\d`); IPv6
    as its 32 hex digits (`ipv6_digits`), for any prefix length.
    """
    text = column.cast(pl.String)
    if network.version == 4:
        low, high = int(network.network_address), int(network.broadcast_address)
        return ipv4_number(text).is_between(low, high).fill_null(False)
    low, high = (f"{int(a):032x}" for a in (network.network_address, network.broadcast_address))
    return ipv6_digits(text).is_between(pl.lit(low), pl.lit(high)).fill_null(False)


def address_matches(column: pl.Expr, value: str) -> pl.Expr:
    """column holds the address value names, however it was typed (`2001:DB8::5`, `::ffff:10.1.2.3`,
    stored as `2001:db8::5` and `10.1.2.3`), or one inside the range it names (`203.0.113.0/24`, an
    IPv6 source's /64). Other text (what was no address, grouped as logged) is compared as it is."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return (column.cast(pl.String) == value).fill_null(False)
    if network.num_addresses > 1:
        return in_network(column, network)
    return (column.cast(pl.String) == canonical(pl.Series([str(network.network_address)]))[0]).fill_null(False)
