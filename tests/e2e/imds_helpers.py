"""Helpers for the Instance Metadata Service tests (spec/imds.md).

Shared by test_imds_service.py, test_imds_botocore.py and test_imds_exec.py:

* `imds_address` finds the metadata service's loopback address in the server's stdout;
* `request` sends one hand-built HTTP request over a raw socket and returns the reply byte
  for byte (status line, header names as sent, body, whether the server closed);
* `loopback_guard` fails a test that opens a connection to anything but loopback (the real
  metadata addresses 169.254.169.254 / fd00:ec2::254 must never be reached from here);
* `TtlSniffer` reads the IP TTL of the packets the service sends on `lo` (case 31);
* `options_applied` changes an instance's metadata options and waits until they apply.

Everything here talks to 127.0.0.1 only.
"""
from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import re
import socket
import struct
import time
from dataclasses import dataclass, field

import helpers

IMDS_RE = re.compile(r"Instance Metadata Service listening on http://(\S+)")

TOKEN_PATH = "/latest/api/token"
TTL_REQ = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_REQ = "X-aws-ec2-metadata-token"
TTL_RESP = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"  # exact casing on responses

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{54}==$")  # 40 bytes, URL-safe base64, padded

# The versions `GET /` may list, in order (spec §1; 2022-07-09 only "on some hosts").
SPEC_VERSIONS = [
    "1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
    "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
    "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
    "2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
    "2021-03-23", "2021-07-15", "2022-07-09", "2022-09-24", "2024-04-11", "latest",
]
OPTIONAL_VERSIONS = {"2022-07-09"}

BUILTIN_OPTS = helpers.BUILTIN_OPTS


def page(status: int, text: str) -> bytes:
    """EC2's XHTML error page (spec §2): iso-8859-1 declaration, TAB before the DTD URL,
    final LF."""
    return (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        " <head>\n"
        f"  <title>{status} - {text}</title>\n"
        " </head>\n"
        " <body>\n"
        f"  <h1>{status} - {text}</h1>\n"
        " </body>\n"
        "</html>\n"
    ).encode("ascii")


PAGE_401 = page(401, "Unauthorized")
PAGE_404 = page(404, "Not Found")
PAGE_400 = page(400, "Bad Request")
assert len(PAGE_401) == 343 and len(PAGE_404) == 337  # the observed lengths (spec §2)


# --------------------------------------------------------------------------------------
# Finding the service
# --------------------------------------------------------------------------------------


def imds_address(srv: helpers.ImdsServer) -> str:
    """`127.0.0.1:PORT` of the metadata service of a started server, from its stdout."""
    text = srv.logs[-1][0].read_text(errors="replace")
    m = IMDS_RE.search(text)
    assert m, f"no 'Instance Metadata Service listening on' line in {srv.name}'s stdout:\n{text}"
    addr = m.group(1).rstrip("/")
    host, _, port = addr.rpartition(":")
    assert_loopback(host.strip("[]"))
    assert port.isdigit(), addr
    return addr


def default_instance(ec2) -> str:
    """The instance imds creates on first start (us-east-1, Name=imds-default), which is what
    a connection from 127.0.0.1 is served as."""
    found = [i for i in helpers.describe(ec2)
             if {"Key": "Name", "Value": "imds-default"} in i.get("Tags", [])
             and i["State"]["Name"] == "running"]
    assert len(found) == 1, f"expected one running imds-default instance, got {found}"
    return found[0]["InstanceId"]


def assert_loopback(host: str) -> None:
    assert ipaddress.ip_address(host).is_loopback, f"refusing to talk to {host}: not loopback"


# --------------------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------------------


@dataclass
class Reply:
    version: str
    status: int
    reason: str
    header_list: list[tuple[str, str]]
    body: bytes
    closed: bool  # the server closed the connection after the response
    raw: bytes = field(repr=False, default=b"")

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.header_list if k.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} repeated: {self.header_list}"
        return values[0] if values else None

    def names(self) -> list[str]:
        return [k for k, _ in self.header_list]

    def has_line(self, name: str, value: str) -> bool:
        """The header is present with exactly this name casing and value."""
        return (name, value) in self.header_list

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def __repr__(self) -> str:
        return (f"Reply({self.version} {self.status} {self.reason!r}, "
                f"{self.header_list}, {self.body[:300]!r}, closed={self.closed})")


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    assert_loopback(host)
    return host, int(port)


def request(addr: str, method: str, path: str, headers: dict | list | None = None, *,
            timeout: float = 5.0, close_wait: float = 1.0,
            host_header: str = "169.254.169.254") -> Reply:
    """Send one HTTP/1.1 request as a guest would (Host: 169.254.169.254) to the loopback
    service at `addr`; read the reply until the server closes (or `close_wait` seconds after
    the body is complete, then `closed` is False)."""
    host, port = _split_addr(addr)
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}", "User-Agent: imds-e2e",
             "Accept: */*"]
    lines += [f"{k}: {v}" for k, v in items]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    buf = b""
    closed = False
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        complete_at = None
        while True:
            now = time.monotonic()
            if complete_at is None and _complete(buf, method):
                complete_at = now
            limit = (complete_at + close_wait) if complete_at is not None else deadline
            if now >= limit:
                break
            s.settimeout(max(0.01, limit - now))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    return _parse(buf, method, closed)


def _complete(buf: bytes, method: str) -> bool:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    if method == "HEAD":
        return True
    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return bool(m) and len(body) >= int(m.group(1))


def _parse(buf: bytes, method: str, closed: bool) -> Reply:
    head, sep, rest = buf.partition(b"\r\n\r\n")
    assert sep, f"no complete HTTP header block in the reply: {buf[:500]!r}"
    lines = head.decode("latin-1").split("\r\n")
    m = re.fullmatch(r"(HTTP/1\.[01]) (\d{3}) ?(.*)", lines[0])
    assert m, f"bad status line {lines[0]!r}"
    header_list = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        assert colon and name == name.strip(), f"bad header line {line!r}"
        header_list.append((name, value.strip()))
    reply = Reply(m.group(1), int(m.group(2)), m.group(3), header_list, b"", closed, buf)
    if method == "HEAD":
        reply.body = rest
    else:
        length = reply.header("Content-Length")
        assert length is not None and length.isdigit(), f"no Content-Length: {header_list}"
        reply.body = rest[:int(length)]
        assert len(rest) == int(length), (
            f"body is {len(rest)} bytes, Content-Length says {length}: {rest[:200]!r}")
    return reply


def put_token(addr: str, ttl: int | str = 21600, **kw) -> Reply:
    return request(addr, "PUT", TOKEN_PATH, {TTL_REQ: str(ttl)}, **kw)


def token(addr: str, ttl: int = 21600) -> str:
    r = put_token(addr, ttl)
    assert r.status == 200, r
    return r.text


def get(addr: str, path: str, tok: str | None = None, method: str = "GET",
        extra: dict | None = None, **kw) -> Reply:
    headers = {TOKEN_REQ: tok} if tok is not None else {}
    headers.update(extra or {})
    return request(addr, method, path, headers, **kw)


def assert_framing(r: Reply, method: str = "GET") -> None:
    """Spec §2 / case 18: `Server: EC2ws`, `Connection: close`, `Date`, `Content-Length`,
    and the connection closed after the response."""
    assert r.has_line("Server", "EC2ws"), f"no 'Server: EC2ws' line: {r.header_list}"
    assert (r.header("Connection") or "").lower() == "close", r.header_list
    date = r.header("Date")
    assert date, f"no Date header: {r.header_list}"
    when = email.utils.parsedate_to_datetime(date)
    assert abs(when.timestamp() - time.time()) < 120, date
    assert date.endswith(" GMT"), date
    length = r.header("Content-Length")
    assert length is not None, f"no Content-Length: {r.header_list}"
    if method != "HEAD":
        assert int(length) == len(r.body)
    else:
        assert r.body == b"", f"HEAD reply has a body: {r.body[:100]!r}"
    assert r.closed, "the server kept the connection open after the response"


def assert_page(r: Reply, status: int) -> None:
    expected = {401: PAGE_401, 404: PAGE_404, 400: PAGE_400}[status]
    assert r.status == status, r
    assert (r.header("Content-Type") or "").split(";")[0].strip() == "text/html", r.header_list
    assert r.body == expected, f"not EC2's {status} page: {r.body!r}"
    assert r.header("Content-Length") == str(len(expected))


def assert_empty(r: Reply, status: int) -> None:
    assert r.status == status, r
    assert r.body == b"", r
    assert r.header("Content-Length") == "0", r.header_list


def assert_text_200(r: Reply) -> None:
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain", r.header_list
    assert r.header("Accept-Ranges") == "none", r.header_list


# --------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------


def apply_options(ec2, iid: str, **opts) -> dict:
    """ModifyInstanceMetadataOptions, then wait until DescribeInstances says `applied`."""
    ec2.modify_instance_metadata_options(InstanceId=iid, **opts)
    return helpers.wait_applied(ec2, iid)


@contextlib.contextmanager
def options_applied(ec2, iid: str, **opts):
    """Apply `opts` for the duration of the block, then go back to the built-in options."""
    applied = apply_options(ec2, iid, **opts)
    try:
        yield applied
    finally:
        apply_options(ec2, iid, **BUILTIN_OPTS)


# --------------------------------------------------------------------------------------
# Loopback only
# --------------------------------------------------------------------------------------


def loopback_only(monkeypatch):
    """The body of an autouse fixture (`yield from loopback_only(monkeypatch)`): the guard
    below for one test, which fails if anything tried to go beyond loopback."""
    guard = LoopbackGuard(monkeypatch)
    yield guard
    guard.check()


class LoopbackGuard:
    """While installed, a connect() to a non-loopback address is refused (OSError) and
    recorded; `check()` fails the test if any was attempted (clients may swallow the
    OSError and fall back, so the record is what counts)."""

    def __init__(self, monkeypatch):
        self.violations: list[str] = []
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        guard = self

        def allowed(sock, address) -> bool:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return True
            host = address[0]
            try:
                return ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                return host == "localhost"

        def connect(sock, address):
            if not allowed(sock, address):
                guard.violations.append(repr(address))
                raise OSError(f"loopback guard: connect to {address!r} refused by the test suite")
            return real_connect(sock, address)

        def connect_ex(sock, address):
            if not allowed(sock, address):
                guard.violations.append(repr(address))
                return 111
            return real_connect_ex(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)

    def check(self) -> None:
        assert not self.violations, (
            f"the test tried to reach non-loopback addresses: {self.violations}")


# --------------------------------------------------------------------------------------
# IP TTL of replies on lo (case 31)
# --------------------------------------------------------------------------------------


def can_sniff() -> str | None:
    """None if an AF_PACKET socket on lo can be opened, else why not."""
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    except (PermissionError, OSError, AttributeError) as e:
        return f"cannot open an AF_PACKET socket ({e}): run as root or with CAP_NET_RAW"
    s.close()
    return None


class TtlSniffer:
    """Capture IPv4/TCP packets on `lo` from the service's port; `ttls(client_port)` gives
    the TTLs of the segments that carried payload to that client port."""

    def __init__(self, service_port: int):
        self.port = service_port
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        # Other suites may fill `lo` with traffic at the same time: a large buffer keeps the
        # kernel from dropping the packets we are after (SO_RCVBUFFORCE needs root, as does
        # the AF_PACKET socket itself).
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.3)
        self.packets: list[tuple[int, int, int, bytes]] = []  # (sport, dport, ttl, payload)

    def close(self):
        self.sock.close()

    def drain(self, until: float | None = None) -> None:
        """Read what the capture holds, until it goes quiet or `until` (a monotonic time)
        passes: loopback is never quiet while other servers talk on it (a PostgreSQL
        store's connections, its feed's polls)."""
        while until is None or time.monotonic() < until:
            try:
                pkt, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                return
            if len(pkt) < 14 + 20 or struct.unpack("!H", pkt[12:14])[0] != 0x0800:
                continue
            ip = pkt[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 6:
                continue
            tcp = ip[ihl:]
            sport, dport = struct.unpack("!HH", tcp[:4])
            if sport != self.port:
                continue
            off = (tcp[12] >> 4) * 4
            self.packets.append((sport, dport, ip[8], bytes(tcp[off:])))

    def payload_ttls(self, client_port: int) -> set[int]:
        found = lambda: {ttl for _, dport, ttl, payload in self.packets if dport == client_port and payload}
        # Drain until the reply to this port has been seen (or the capture goes quiet).
        deadline = time.monotonic() + 5
        while not found() and time.monotonic() < deadline:
            before = len(self.packets)
            self.drain(until=min(deadline, time.monotonic() + 0.2))
            if len(self.packets) == before:
                break
        return found()


def request_with_port(addr: str, method: str, path: str, headers: dict | None = None,
                      timeout: float = 5.0) -> tuple[Reply, int]:
    """Like `request`, also returning the client's local port (to pick its packets)."""
    host, port = _split_addr(addr)
    s = socket.create_connection((host, port), timeout=timeout)
    local_port = s.getsockname()[1]
    lines = [f"{method} {path} HTTP/1.1", "Host: 169.254.169.254"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    buf = b""
    closed = False
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    finally:
        s.close()
    return _parse(buf, method, closed), local_port
