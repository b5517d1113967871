"""Sweep ranges, ports and scope: exact blocks, one-line RangeErrors, checks made before anything is contacted."""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomaudit.fleet.ranges import (
    DEFAULT_PORTS,
    AddressRange,
    IPAddress,
    RangeError,
    Scope,
    enforce_addresses,
    enforce_scope,
    is_public,
    load_scope,
    parse_ports,
    parse_ranges,
)

net = ipaddress.ip_network
addr = ipaddress.ip_address


def _scope(*networks: str, source: str = "scope.txt") -> Scope:
    return Scope(source=source, sha256="0" * 64, networks=tuple(net(n) for n in networks))


# ---------------------------------------------------------------------------- ports


def test_default_ports_are_the_dicom_ports() -> None:
    # Given / When: the defaults
    # Then: the IANA DICOM ports and Orthanc's, in the documented order
    assert DEFAULT_PORTS == (104, 11112, 2761, 2762, 4242)


def test_ports_parse_lists_and_ranges_sorted_and_unique() -> None:
    # Given a list with a range, a duplicate and stray whitespace
    text = " 11112, 104 ,2761-2762,104"
    # When it is parsed
    ports = parse_ports(text)
    # Then every port appears once, ascending
    assert ports == (104, 2761, 2762, 11112)


def test_ports_accept_exactly_the_limit() -> None:
    # Given a range of exactly 1024 ports
    # When it is parsed
    ports = parse_ports("1-1024")
    # Then it is allowed
    assert len(ports) == 1024 and ports[0] == 1 and ports[-1] == 1024


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("70000", r"^--ports: '70000' is out of range \(1-65535\)$"),
        ("0", r"^--ports: '0' is out of range \(1-65535\)$"),
        ("", r"^--ports: no ports given"),
        ("   ", r"^--ports: no ports given"),
        ("104,,105", r"^--ports: empty entry"),
        ("http", r"^--ports: 'http' is not a port or port range"),
        ("-5", r"^--ports: '-5' is not a port or port range"),
        ("200-100", r"^--ports: '200-100' is reversed \(200 > 100\)$"),
        ("1-1025", r"^--ports: 1025 ports given, more than the limit of 1024$"),
        ("1-1000,500-1100", r"^--ports: 1100 ports given, more than the limit of 1024$"),
    ],
)
def test_bad_ports_are_refused_with_a_reason(text: str, message: str) -> None:
    # Given a bad --ports value
    # When it is parsed
    # Then a one-line RangeError says what is wrong
    with pytest.raises(RangeError, match=message):
        parse_ports(text)


# ---------------------------------------------------------------------------- range forms


def test_cidr_yields_hosts_without_network_and_broadcast() -> None:
    # Given an IPv4 /30
    # When it is parsed and iterated
    (r,) = parse_ranges(["10.0.0.0/30"])
    # Then the block is kept whole, but only the two host addresses are yielded
    assert r.networks == (net("10.0.0.0/30"),)
    assert list(r) == [addr("10.0.0.1"), addr("10.0.0.2")]
    assert len(r) == 2


@pytest.mark.parametrize(("spec", "count"), [("10.0.0.0/31", 2), ("10.0.0.7/32", 1), ("fd00::/126", 4)])
def test_point_to_point_host_and_ipv6_cidrs_yield_every_address(spec: str, count: int) -> None:
    # Given a /31, a /32 or an IPv6 network (no broadcast address to skip)
    # When it is parsed
    (r,) = parse_ranges([spec])
    # Then every address is yielded
    assert len(r) == count == len(list(r))
    assert list(r) == list(net(spec))


def test_single_addresses_parse_to_one_address() -> None:
    # Given an IPv4 and an IPv6 address
    # When they are parsed
    v4, v6 = parse_ranges(["10.0.0.5", "::1"])
    # Then each is one /32 or /128
    assert (v4.networks, list(v4)) == ((net("10.0.0.5/32"),), [addr("10.0.0.5")])
    assert (v6.networks, list(v6)) == ((net("::1/128"),), [addr("::1")])


def test_last_octet_range_covers_both_ends_as_collapsed_blocks() -> None:
    # Given a last-octet range
    # When it is parsed
    (r,) = parse_ranges(["10.0.0.5-20"])
    # Then it holds 10.0.0.5 .. 10.0.0.20 exactly, as the minimal CIDR blocks
    assert list(r) == [addr(f"10.0.0.{i}") for i in range(5, 21)]
    assert r.networks == tuple(ipaddress.summarize_address_range(addr("10.0.0.5"), addr("10.0.0.20")))
    assert len(r) == 16


def test_full_range_crosses_octet_boundaries() -> None:
    # Given a full range across a /24 boundary
    # When it is parsed
    (r,) = parse_ranges(["10.0.0.250 - 10.0.1.5"])
    # Then the addresses run on across the boundary, every one included
    assert [str(a) for a in r] == [f"10.0.0.{i}" for i in range(250, 256)] + [f"10.0.1.{i}" for i in range(6)]


def test_ipv6_full_range() -> None:
    # Given an IPv6 range
    # When it is parsed
    (r,) = parse_ranges(["fd00::1-fd00::4"])
    # Then every address in it is yielded
    assert [str(a) for a in r] == ["fd00::1", "fd00::2", "fd00::3", "fd00::4"]


def test_host_name_resolves_to_its_addresses() -> None:
    # Given a host name from /etc/hosts (no DNS traffic)
    # When it is parsed
    (r,) = parse_ranges(["localhost"])
    # Then every address it resolves to is a /32 or /128 of the range, and the name is kept
    assert r.hostname == "localhost"
    assert addr("127.0.0.1") in list(r)
    assert all(n.prefixlen == n.max_prefixlen for n in r.networks)


def test_host_name_with_hyphen_is_not_taken_for_a_range() -> None:
    # Given a host name containing a hyphen, not resolved
    # When it is parsed
    (r,) = parse_ranges(["pacs-1.example.org"], resolve=False)
    # Then it is a host name without addresses
    assert (r.hostname, r.networks, len(r)) == ("pacs-1.example.org", (), 0)


def test_ranges_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    # Given a ranges file with whole-line and trailing comments and blank lines
    f = tmp_path / "nets.txt"
    f.write_text("# radiology\n\n10.0.0.0/30   # PACS VLAN\n  10.0.1.5-6\n\n# end\n")
    # When it is given with @ and as a plain existing path
    with_at = parse_ranges([f"@{f}"])
    plain = parse_ranges([str(f)])
    # Then each entry line is one range, its spec without the comment
    assert [r.spec for r in with_at] == ["10.0.0.0/30", "10.0.1.5-6"]
    assert with_at == plain
    assert sum(len(r) for r in with_at) == 4


def test_ranges_file_error_names_the_file_and_line(tmp_path: Path) -> None:
    # Given a ranges file whose third line has host bits set
    f = tmp_path / "nets.txt"
    f.write_text("10.0.0.0/24\n# comment\n10.0.0.5/24\n")
    # When it is parsed
    # Then the message names the file, the line and the network meant
    with pytest.raises(RangeError) as info:
        parse_ranges([f"@{f}"])
    assert str(info.value) == (
        f"ranges file {str(f)!r} line 3: '10.0.0.5/24' has host bits set (did you mean 10.0.0.0/24?)"
    )


def test_ranges_file_cannot_include_another_file(tmp_path: Path) -> None:
    # Given a ranges file that names another file
    f = tmp_path / "nets.txt"
    f.write_text(f"@{f}\n")
    # When it is parsed
    # Then it is refused (no recursion)
    with pytest.raises(RangeError, match=r"line 1: .* cannot name another file"):
        parse_ranges([f"@{f}"])


def test_missing_and_empty_ranges_files_are_refused(tmp_path: Path) -> None:
    # Given a missing file and a file of comments only
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    # When they are parsed
    # Then each is a one-line error naming the file
    with pytest.raises(RangeError, match=r"^ranges file '.*nope.txt': no such file$"):
        parse_ranges([f"@{tmp_path / 'nope.txt'}"])
    with pytest.raises(RangeError, match=r"^ranges file '.*empty.txt': no ranges"):
        parse_ranges([f"@{empty}"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("10.0.0.5/24", r"^range '10.0.0.5/24': '10.0.0.5/24' has host bits set \(did you mean 10.0.0.0/24\?\)$"),
        ("fd00::1/120", r"has host bits set \(did you mean fd00::/120\?\)"),
        ("10.0.0.0/33", r"'10.0.0.0/33' is not a valid network"),
        ("10.0.0.20-5", r"^range '10.0.0.20-5': start 10.0.0.20 is after end 10.0.0.5$"),
        ("10.0.1.0-10.0.0.255", r"start 10.0.1.0 is after end 10.0.0.255"),
        ("10.0.0.5-300", r"last octet 300 is out of range \(0-255\)"),
        ("10.0.0.300", r"^range '10.0.0.300': '10.0.0.300' is not a valid IPv4 address \(octet 300"),
        ("10.0.0", r"is not a valid IPv4 address \(expected 4 octets\)"),
        ("10.0.0.1-::1", r"are different IP versions"),
        ("fd00::1-5", r"last-octet range .* is IPv4 only"),
        ("pacs.local:104", r"has a port: give ports with --ports"),
        ("bad_host!", r"is not an address, network, range, host name or existing file"),
        ("", r"^range '': empty$"),
    ],
)
def test_bad_ranges_are_refused_with_a_reason(spec: str, message: str) -> None:
    # Given a malformed range
    # When it is parsed
    # Then a one-line RangeError names the range and the problem
    with pytest.raises(RangeError, match=message):
        parse_ranges([spec], resolve=False)


def test_unresolvable_host_is_refused_without_a_dns_query() -> None:
    # Given a name under the reserved .invalid TLD (RFC 6761: never resolves; answered locally)
    # When it is parsed
    # Then it is a usage error
    with pytest.raises(RangeError, match=r"^range 'pacs.invalid': host 'pacs.invalid' does not resolve$"):
        parse_ranges(["pacs.invalid"])


def test_no_ranges_is_an_error() -> None:
    # Given no ranges at all
    # When they are parsed
    # Then that is refused
    with pytest.raises(RangeError, match="no ranges given"):
        parse_ranges([])


def test_too_many_addresses_states_count_and_limit() -> None:
    # Given two /12s (2 x 1,048,574 hosts) against the default limit
    # When they are parsed
    # Then the message gives the total and the limit
    with pytest.raises(RangeError) as info:
        parse_ranges(["10.0.0.0/12", "10.16.0.0/12"])
    assert "2,097,148 addresses, more than the limit of 1,048,576 (an IPv4 /12)" in str(info.value)


def test_a_slash_12_fits_the_default_limit() -> None:
    # Given one /12
    # When it is parsed with the default limit
    (r,) = parse_ranges(["10.0.0.0/12"])
    # Then it is accepted
    assert len(r) == (1 << 20) - 2


def test_len_of_a_slash_16_is_computed_not_iterated() -> None:
    # Given a /16 whose iterator would fail if used
    class NoIter(AddressRange):
        def __iter__(self) -> Iterator[IPAddress]:
            raise AssertionError("len() must not iterate")

    r = NoIter(spec="10.1.0.0/16", networks=(net("10.1.0.0/16"),))
    # When its length is asked
    # Then it is the host count, without iterating
    assert len(r) == 65534


def test_huge_ipv6_range_reports_its_size_without_overflow() -> None:
    # Given an IPv6 /64 (more addresses than len() can return)
    (r,) = parse_ranges(["fd00::/64"], max_addresses=1 << 70)
    # When its size is asked
    # Then the exact count comes back
    assert r.size == 1 << 64


# ---------------------------------------------------------------------------- scope


def test_scope_file_loads_with_hash_and_collapsed_networks(tmp_path: Path) -> None:
    # Given a scope file with two adjacent /25s, a range, an address and comments
    f = tmp_path / "scope.txt"
    f.write_bytes(
        b"# authorisation RAD-2024-17\n10.0.0.0/25\n10.0.0.128/25  # second half\n10.0.1.0-10.0.1.255\n127.0.0.1\n"
    )
    # When it is loaded
    scope = load_scope(f)
    # Then the adjacent blocks are collapsed, and the hash is of the file bytes
    assert scope.networks == (net("10.0.0.0/23"), net("127.0.0.1/32"))
    assert scope.sha256 == hashlib.sha256(f.read_bytes()).hexdigest()
    assert scope.to_dict() == {"file": str(f), "sha256": scope.sha256, "networks": ["10.0.0.0/23", "127.0.0.1/32"]}


def test_scope_covers_a_block_spanning_adjacent_entries() -> None:
    # Given a scope written as two adjacent halves
    scope = _scope("10.0.0.0/25", "10.0.0.128/25")
    # When a block spanning both is checked
    # Then it is covered; a block reaching beyond is not
    assert scope.covers(net("10.0.0.0/24"))
    assert not scope.covers(net("10.0.0.0/23"))


def test_scope_contains_addresses_and_strings() -> None:
    # Given a scope
    scope = _scope("10.0.0.0/16", "fd00::/64")
    # When addresses are asked
    # Then membership is exact, strings are accepted, and other families never match
    assert scope.contains("10.0.255.255") and scope.contains(addr("fd00::1"))
    assert not scope.contains("10.1.0.0") and not scope.contains("::1")


def test_scope_contains_refuses_a_non_address() -> None:
    # Given a scope
    # When a host name is asked
    # Then that is an error, not a silent "no"
    with pytest.raises(RangeError, match="not an IP address"):
        _scope("10.0.0.0/8").contains("pacs.local")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# nothing\n\n", r"^scope '.*scope.txt': no networks"),
        ("10.0.0.0/8\npacs.local\n", r"^scope '.*scope.txt' line 2: 'pacs.local' is not an address, network or range"),
        ("10.0.0.5/8\n", r"^scope '.*scope.txt' line 1: '10.0.0.5/8' has host bits set \(did you mean 10.0.0.0/8\?\)$"),
        ("@other.txt\n", r"line 1: '@other.txt' is not an address"),
    ],
)
def test_bad_scope_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    # Given a bad scope file
    f = tmp_path / "scope.txt"
    f.write_text(content)
    # When it is loaded
    # Then a one-line RangeError names the file (and line)
    with pytest.raises(RangeError, match=message):
        load_scope(f)


def test_missing_scope_file_is_refused() -> None:
    # Given a path that does not exist
    # When it is loaded
    # Then the message says so
    with pytest.raises(RangeError, match=r"^scope 'no-such-scope.txt': no such file$"):
        load_scope("no-such-scope.txt")


# ---------------------------------------------------------------------------- public addresses


@pytest.mark.parametrize(
    ("value", "public"),
    [
        ("10.0.0.0/8", False),
        ("0.0.0.0/0", True),
        ("8.8.8.8", True),
        ("127.5.6.7", False),
        ("100.64.0.0/10", False),
        ("172.16.0.0/12", False),
        ("172.0.0.0/8", True),
        ("10.0.0.0/7", True),  # 11.0.0.0/8 is public
        ("192.168.1.0/24", False),
        ("169.254.1.1", False),
        ("192.0.2.0/24", False),
        ("192.0.0.0/29", False),
        ("192.0.0.0/24", True),  # 192.0.0.9 and .10 are globally reachable anycast
        ("255.255.255.255", False),
        ("::1", False),
        ("fd00::/8", False),
        ("fe80::/10", False),
        ("2001:db8::/32", False),
        ("2001:2::/48", False),
        ("2001::/32", True),  # Teredo reaches the internet
        ("2606:4700::/32", True),
        ("::ffff:10.0.0.0/104", False),  # IPv4-mapped private
        ("::ffff:8.8.8.8", True),  # IPv4-mapped public
        ("::/0", True),
    ],
)
def test_public_detection(value: str, public: bool) -> None:
    # Given a network or address
    # When asked whether any of it is globally reachable
    # Then the IANA special-purpose registries decide
    assert is_public(net(value)) is public
    if "/" not in value:
        assert is_public(addr(value)) is public


# ---------------------------------------------------------------------------- enforcement


def test_range_outside_scope_is_refused_naming_the_scope() -> None:
    # Given a scope and a range outside it
    scope = _scope("10.0.0.0/16", "127.0.0.0/8")
    # When the sweep is checked
    # Then it is refused before anything is contacted
    with pytest.raises(RangeError) as info:
        enforce_scope(parse_ranges(["10.2.0.0/24"]), scope, allow_public=False)
    assert str(info.value) == (
        "range '10.2.0.0/24' is outside the scope in scope.txt (10.0.0.0/16, 127.0.0.0/8); nothing was contacted"
    )


def test_range_partly_outside_scope_names_the_first_address_outside() -> None:
    # Given a range reaching beyond its scope
    scope = _scope("10.0.0.0/16")
    # When the sweep is checked
    # Then the message says which address is not covered
    with pytest.raises(
        RangeError, match=r"partly outside the scope in scope.txt \(10.0.0.0/16\): 10.1.0.0 is not in it"
    ):
        enforce_scope(parse_ranges(["10.0.0.0/15"]), scope, allow_public=False)


def test_scope_listing_is_cut_after_five_networks() -> None:
    # Given a scope of seven separate networks
    scope = _scope(*(f"10.{i}.0.0/24" for i in range(0, 14, 2)))
    # When a range outside it is checked
    # Then the message lists five and "..."
    with pytest.raises(
        RangeError, match=r"\(10.0.0.0/24, 10.2.0.0/24, 10.4.0.0/24, 10.6.0.0/24, 10.8.0.0/24, \.\.\.\)"
    ):
        enforce_scope(parse_ranges(["10.1.0.0/24"]), scope, allow_public=False)


def test_range_inside_scope_passes() -> None:
    # Given ranges wholly inside the scope
    scope = _scope("10.0.0.0/16", "127.0.0.0/8")
    # When the sweep is checked
    # Then nothing is raised
    enforce_scope(parse_ranges(["10.0.5.0/24", "127.0.0.1", "10.0.0.1-10.0.3.7"]), scope, allow_public=False)


def test_public_range_needs_allow_public() -> None:
    # Given a public range and no scope
    ranges = parse_ranges(["8.8.8.0/24"])
    # When checked without --allow-public
    # Then it is refused with the hint
    with pytest.raises(RangeError) as info:
        enforce_scope(ranges, None, allow_public=False)
    assert str(info.value) == (
        "range '8.8.8.0/24' includes public addresses: give --allow-public if you are authorised to test them; "
        "nothing was contacted"
    )
    # And with --allow-public it passes
    enforce_scope(ranges, None, allow_public=True)


def test_public_range_inside_scope_still_needs_allow_public() -> None:
    # Given a scope that includes a public block
    scope = _scope("8.8.8.0/24")
    # When a range inside it is checked without --allow-public
    # Then the public check still applies
    with pytest.raises(RangeError, match="includes public addresses"):
        enforce_scope(parse_ranges(["8.8.8.0/28"]), scope, allow_public=False)


def test_unresolved_host_cannot_pass_the_checks() -> None:
    # Given a host name range that was not resolved
    ranges = parse_ranges(["pacs.example.org"], resolve=False)
    # When checked
    # Then it is refused: there is nothing to check it with
    with pytest.raises(RangeError, match="was not resolved, so it cannot be checked"):
        enforce_scope(ranges, None, allow_public=False)


def test_enforce_scope_uses_the_given_noun() -> None:
    # Given a range from an import
    # When checked with another noun
    # Then the message uses it
    with pytest.raises(RangeError, match=r"^nmap host '8.8.8.8' is a public address"):
        enforce_scope(parse_ranges(["8.8.8.8"]), None, allow_public=False, what="nmap host")


def test_enforce_scope_of_a_slash_12_works_on_blocks() -> None:
    # Given a /12 sweep and a /8 scope
    ranges = parse_ranges(["10.16.0.0/12"])
    scope = _scope("10.0.0.0/8")
    # When the sweep is checked
    started = time.perf_counter()
    enforce_scope(ranges, scope, allow_public=False)
    elapsed = time.perf_counter() - started
    # Then it takes no time worth mentioning (blocks, not a million addresses)
    assert elapsed < 1.0


def test_explicit_target_outside_scope_is_refused_with_its_address() -> None:
    # Given a target named by host name whose address is outside the scope
    scope = _scope("10.0.0.0/16")
    # When it is checked
    # Then the message shows label and address
    with pytest.raises(RangeError) as info:
        enforce_addresses([("target 'pacs.local:104'", "10.9.0.1")], scope, allow_public=False)
    assert str(info.value) == (
        "target 'pacs.local:104' (10.9.0.1) is outside the scope in scope.txt (10.0.0.0/16); nothing was contacted"
    )


def test_explicit_public_target_needs_allow_public() -> None:
    # Given a public target given by address
    pairs = [("target '8.8.8.8:104'", "8.8.8.8")]
    # When checked without --allow-public
    # Then it is refused, the address not repeated; with --allow-public it passes
    with pytest.raises(RangeError, match=r"^target '8.8.8.8:104' is a public address: give --allow-public"):
        enforce_addresses(pairs, None, allow_public=False)
    enforce_addresses(pairs, None, allow_public=True)


def test_explicit_targets_inside_scope_pass() -> None:
    # Given loopback targets and a loopback scope
    # When checked
    # Then nothing is raised
    enforce_addresses(
        [("target 'a'", "127.0.0.1"), ("target 'b'", "::1")], _scope("127.0.0.0/8", "::1/128"), allow_public=False
    )


def test_explicit_target_with_a_bad_address_is_refused() -> None:
    # Given a pair whose address is not one
    # When checked
    # Then the label is named
    with pytest.raises(RangeError, match=r"^target 'x': 'pacs' is not an IP address$"):
        enforce_addresses([("target 'x'", "pacs")], None, allow_public=True)
