"""nmap XML import: open TCP ports become targets, dicom-ping's verdict travels along, bad files are one-line errors."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomaudit.fleet.nmap import MAX_NMAP_XML_BYTES, NmapEndpoint, load_nmap, looks_like_nmap_xml, to_targets
from dicomaudit.lab.server import LabPACS
from dicomaudit.targets import TargetError

# The strings nmap 7.93's scripts/dicom-ping.nse emits (output.dicom / output.config).
DISCOVERED = "DICOM Service Provider discovered!"
ANY_AET = "Any AET is accepted (Insecure)"
AET_CHECKED = "Called AET check enabled"

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<!-- Nmap 7.93 scan initiated Sun Nov 22 00:19:45 2026 as: nmap -sV -&#45;script dicom-ping -oX scan.xml 10.0.0.0/29 -->
<nmaprun scanner="nmap" args="nmap -sV -&#45;script dicom-ping -oX scan.xml 10.0.0.0/29" start="1795306785" \
startstr="Sun Nov 22 00:19:45 2026" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="5" services="104,2761-2762,4242,11112"/>
<verbose level="0"/>
<debugging level="0"/>
"""
_TAIL = """<runstats><finished time="1795306790" timestr="Sun Nov 22 00:19:50 2026" \
summary="Nmap done at Sun Nov 22 00:19:50 2026; 8 IP addresses (3 hosts up) scanned in 5.01 seconds" elapsed="5.01" \
exit="success"/><hosts up="3" down="5" total="8"/>
</runstats>
</nmaprun>
"""

_PACS_HOST = """<host starttime="1795306785" endtime="1795306790"><status state="up" reason="syn-ack" reason_ttl="0"/>
<address addr="10.0.0.5" addrtype="ipv4"/>
<address addr="52:54:00:12:34:56" addrtype="mac" vendor="QEMU virtual NIC"/>
<hostnames>
<hostname name="pacs.radiology.example" type="PTR"/>
<hostname name="pacs" type="user"/>
</hostnames>
<ports><extraports state="closed" count="1">
<extrareasons reason="conn-refused" count="1" proto="tcp" ports="2761"/>
</extraports>
<port protocol="tcp" portid="104"><state state="open" reason="syn-ack" reason_ttl="0"/>\
<service name="dicom" method="probed" conf="10"/>\
<script id="dicom-ping" output="&#xa;  dicom: DICOM Service Provider discovered!&#xa;  config: Any AET is accepted (Insecure)">\
<elem key="dicom">DICOM Service Provider discovered!</elem>
<elem key="config">Any AET is accepted (Insecure)</elem>
</script></port>
<port protocol="tcp" portid="2762"><state state="open" reason="syn-ack" reason_ttl="0"/>\
<service name="dicom" tunnel="ssl" method="probed" conf="10"/></port>
<port protocol="tcp" portid="4242"><state state="filtered" reason="no-response" reason_ttl="0"/>\
<service name="vrml-multi-use" method="table" conf="3"/></port>
<port protocol="tcp" portid="8080"><state state="open|filtered" reason="no-response" reason_ttl="0"/></port>
<port protocol="udp" portid="104"><state state="open" reason="udp-response" reason_ttl="64"/></port>
<port protocol="tcp" portid="11112"><state state="open" reason="syn-ack" reason_ttl="0"/>\
<service name="dicom" method="probed" conf="10"/>\
<script id="dicom-ping" output="&#xa;  dicom: DICOM Service Provider discovered!&#xa;  config: Called AET check enabled">\
<elem key="dicom">DICOM Service Provider discovered!</elem>
<elem key="config">Called AET check enabled</elem>
</script></port>
</ports>
<times srtt="164" rttvar="5000" to="100000"/>
</host>
"""
_DOWN_HOST = """<host><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="10.0.0.6" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="104"><state state="open" reason="syn-ack" reason_ttl="0"/></port></ports>
</host>
"""
_V6_HOST = """<host starttime="1795306785" endtime="1795306790"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="fd00::7" addrtype="ipv6"/>
<hostnames>
</hostnames>
<ports><port protocol="tcp" portid="4242"><state state="open" reason="syn-ack" reason_ttl="0"/>\
<service name="vrml-multi-use" method="table" conf="3"/>\
<script id="dicom-ping" output="ERROR: Script execution failed (use -d to debug)"/></port>
</ports>
</host>
"""


def _write(tmp_path: Path, body: str, name: str = "scan.xml") -> Path:
    path = tmp_path / name
    path.write_text(_HEAD + body + _TAIL, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- reading


def test_only_open_tcp_ports_of_up_hosts_are_read_in_file_order(tmp_path: Path) -> None:
    # Given a sweep with open, filtered, open|filtered and UDP ports, a down host and an IPv6 host
    path = _write(tmp_path, _PACS_HOST + _DOWN_HOST + _V6_HOST)
    # When it is loaded
    endpoints = load_nmap(path)
    # Then only the open TCP ports of hosts that are up remain, in file order
    assert [(e.host, e.port) for e in endpoints] == [
        ("10.0.0.5", 104),
        ("10.0.0.5", 2762),
        ("10.0.0.5", 11112),
        ("fd00::7", 4242),
    ]


def test_first_host_name_and_service_are_kept(tmp_path: Path) -> None:
    # Given a host with two names and a probed service
    path = _write(tmp_path, _PACS_HOST)
    # When it is loaded
    first = load_nmap(path)[0]
    # Then the first name and the service name are kept, and no tunnel
    assert (first.hostname, first.service, first.tunnel) == ("pacs.radiology.example", "dicom", None)


def test_ssl_tunnel_is_read(tmp_path: Path) -> None:
    # Given a port nmap found speaking TLS (-sV: service tunnel="ssl")
    path = _write(tmp_path, _PACS_HOST)
    # When it is loaded
    tls = next(e for e in load_nmap(path) if e.port == 2762)
    # Then the tunnel is recorded, and no dicom-ping ran there
    assert tls.tunnel == "ssl"
    assert (tls.dicom_ping, dict(tls.dicom_ping_fields)) == (None, {})


def test_dicom_ping_output_and_fields_are_read(tmp_path: Path) -> None:
    # Given ports where dicom-ping ran, one open to any AE, one checking the called AE
    path = _write(tmp_path, _PACS_HOST)
    # When it is loaded
    by_port = {e.port: e for e in load_nmap(path)}
    # Then the script's fields and its output text are kept
    assert dict(by_port[104].dicom_ping_fields) == {"dicom": DISCOVERED, "config": ANY_AET}
    assert by_port[104].dicom_ping == f"dicom: {DISCOVERED}\n  config: {ANY_AET}"
    assert dict(by_port[11112].dicom_ping_fields) == {"dicom": DISCOVERED, "config": AET_CHECKED}


def test_dicom_ping_fields_are_read_only(tmp_path: Path) -> None:
    # Given a loaded endpoint
    endpoint = load_nmap(_write(tmp_path, _PACS_HOST))[0]
    # When its fields are changed
    # Then that fails: the endpoint is frozen all the way down
    with pytest.raises(TypeError):
        endpoint.dicom_ping_fields["config"] = "x"  # type: ignore[index]


def test_a_host_listed_twice_gives_each_port_once(tmp_path: Path) -> None:
    # Given a file listing the same host twice (nmap does when it is named twice)
    path = _write(tmp_path, _PACS_HOST + _PACS_HOST)
    # When it is loaded
    endpoints = load_nmap(path)
    # Then each (host, port) appears once
    assert [e.port for e in endpoints] == [104, 2762, 11112]


# ---------------------------------------------------------------------------- targets


def test_targets_carry_nmaps_view_as_attributes(tmp_path: Path) -> None:
    # Given endpoints with and without dicom-ping results
    targets = to_targets(load_nmap(_write(tmp_path, _PACS_HOST + _V6_HOST)))
    # When they become targets
    first, tls, _, v6 = targets
    # Then host, port and name are set, no AE title, and only non-empty attributes
    assert (first.host, first.port, first.called_aet, first.name) == ("10.0.0.5", 104, None, "pacs.radiology.example")
    assert dict(first.attributes) == {
        "source": "nmap",
        "nmap_service": "dicom",
        "nmap_dicom_ping": f"dicom: {DISCOVERED}; config: {ANY_AET}",
    }
    assert dict(tls.attributes) == {"source": "nmap", "nmap_service": "dicom", "nmap_tunnel": "ssl"}
    assert v6.name is None and str(v6) == "[fd00::7]:4242"


def test_dicom_ping_output_text_is_used_when_it_has_no_fields() -> None:
    # Given an endpoint whose dicom-ping gave only output text over two lines
    endpoint = NmapEndpoint(host="10.0.0.1", port=104, hostname=None, service=None, tunnel=None, dicom_ping="a\n  b")
    # When it becomes a target
    (target,) = to_targets([endpoint])
    # Then the text is kept on one line
    assert dict(target.attributes) == {"source": "nmap", "nmap_dicom_ping": "a; b"}


# ---------------------------------------------------------------------------- sniffing


def test_nmap_xml_is_recognised_and_csv_is_not(tmp_path: Path) -> None:
    # Given an nmap file, a CSV inventory and a missing path
    xml = _write(tmp_path, _PACS_HOST)
    csv = tmp_path / "inv.csv"
    csv.write_text("host,port,called_aet\n10.0.0.5,104,PACS\n")
    # When each is sniffed
    # Then only the nmap file is taken for nmap XML
    assert looks_like_nmap_xml(xml)
    assert not looks_like_nmap_xml(csv)
    assert not looks_like_nmap_xml(tmp_path / "missing.xml")


# ---------------------------------------------------------------------------- errors


def test_missing_file_is_refused(tmp_path: Path) -> None:
    # Given a path that does not exist
    # When it is loaded
    # Then the message says so
    with pytest.raises(TargetError, match=r"^nmap file '.*x.xml': no such file$"):
        load_nmap(tmp_path / "x.xml")


def test_no_open_tcp_ports_is_refused(tmp_path: Path) -> None:
    # Given a sweep where the only host is down
    path = _write(tmp_path, _DOWN_HOST, name="x.xml")
    # When it is loaded
    # Then there is nothing to probe, and the message says why
    with pytest.raises(TargetError) as info:
        load_nmap(path)
    assert str(info.value) == f"nmap file {str(path)!r}: no open TCP ports"


def test_xml_with_another_root_is_refused(tmp_path: Path) -> None:
    # Given well-formed XML that is not nmap's
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?>\n<masscan><host/></masscan>\n')
    # When it is loaded
    # Then it is refused by its root element
    with pytest.raises(TargetError, match=r"not nmap XML \(root element <masscan>, expected <nmaprun>\)$"):
        load_nmap(path)


def test_a_csv_is_not_nmap_xml(tmp_path: Path) -> None:
    # Given a CSV file
    path = tmp_path / "inv.csv"
    path.write_text("host,port,called_aet\n10.0.0.5,104,PACS\n")
    # When it is loaded as nmap XML
    # Then the message says it is not nmap XML
    with pytest.raises(
        TargetError, match=r"^nmap file '.*inv.csv': not nmap XML \(syntax error at line 1, column 0\)$"
    ):
        load_nmap(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    # Given an empty file
    path = tmp_path / "scan.xml"
    path.write_bytes(b"")
    # When it is loaded
    # Then it is refused
    with pytest.raises(TargetError, match="empty file, not nmap XML"):
        load_nmap(path)


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    # Given nmap XML with a mismatched tag in a host
    path = _write(tmp_path, _PACS_HOST.replace("</ports>", "</port>", 1))
    # When it is loaded
    # Then the message gives the line and what is wrong
    with pytest.raises(TargetError, match=r"malformed XML at line \d+, column \d+ \(mismatched tag\)$"):
        load_nmap(path)


def test_truncated_file_says_nmap_may_not_have_finished(tmp_path: Path) -> None:
    # Given an interrupted sweep: the file stops before </nmaprun>
    path = tmp_path / "scan.xml"
    path.write_text(_HEAD + _PACS_HOST)
    # When it is loaded
    # Then the message suggests why
    with pytest.raises(TargetError, match=r"the XML ends early at line \d+ \(did nmap finish\?\)$"):
        load_nmap(path)


def test_entity_expansion_bomb_is_refused_quickly(tmp_path: Path) -> None:
    # Given a "billion laughs" file dressed as nmap XML
    levels = ['<!ENTITY a0 "ha">'] + [f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    path = tmp_path / "bomb.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [{"".join(levels)}]>\n<nmaprun>&a9;</nmaprun>\n')
    # When it is loaded
    started = time.perf_counter()
    # Then expat's amplification limit stops it: an error, in well under a second, memory untouched
    with pytest.raises(TargetError, match=r"malformed XML|not nmap XML"):
        load_nmap(path)
    assert time.perf_counter() - started < 5


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    # Given a (sparse) file one byte over the limit
    path = tmp_path / "huge.xml"
    with path.open("wb") as fh:
        fh.truncate(MAX_NMAP_XML_BYTES + 1)
    # When it is loaded
    # Then it is refused by its size
    with pytest.raises(TargetError, match=r"256 MiB is more than the 256 MiB limit"):
        load_nmap(path)


# ---------------------------------------------------------------------------- real nmap

NMAP = shutil.which("nmap")
needs_nmap = pytest.mark.skipif(NMAP is None, reason="nmap is not installed (apt-get install nmap)")


@pytest.fixture
def listener() -> Iterator[int]:
    """A loopback TCP port that accepts connections and closes them at once."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, name="nmap-test-listener", daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _nmap(port: int, out: Path, *extra: str) -> None:
    assert NMAP is not None
    # -sT: connect scan (no privileges); -Pn: no host discovery; -n: no DNS.  Loopback only.
    cmd = [NMAP, "-sT", "-Pn", "-n", "-p", str(port), *extra, "-oX", str(out), "127.0.0.1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


@needs_nmap
def test_real_nmap_output_of_an_open_port_is_read(tmp_path: Path, listener: int) -> None:
    # Given a real nmap sweep of a loopback port that accepts connections
    out = tmp_path / "scan.xml"
    _nmap(listener, out)
    # When its XML is loaded
    endpoints = load_nmap(out)
    # Then exactly that open port is found
    assert [(e.host, e.port) for e in endpoints] == [("127.0.0.1", listener)]
    assert looks_like_nmap_xml(out)


@needs_nmap
def test_real_dicom_ping_against_the_lab_pacs_is_read(tmp_path: Path) -> None:
    # Given real nmap running dicom-ping against an open lab PACS on a random port
    # ("+" forces the script: its portrule only knows the usual DICOM ports)
    out = tmp_path / "scan.xml"
    with LabPACS(profile="open", host="127.0.0.1", port=0) as lab:
        _nmap(lab.port, out, "--script", "+dicom-ping")
        port = lab.port
    # When its XML is loaded
    (endpoint,) = load_nmap(out)
    # Then the script's verdict is there: a DICOM node accepting any called AE title
    assert endpoint.port == port
    assert dict(endpoint.dicom_ping_fields) == {"dicom": DISCOVERED, "config": ANY_AET}
    assert to_targets([endpoint])[0].attributes["nmap_dicom_ping"] == f"dicom: {DISCOVERED}; config: {ANY_AET}"
