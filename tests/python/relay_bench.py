"""The relay's test bench for Python: the committed test PKI, a tenant's files, the relay's TOML,
a next hop on loopback that requires the tenant's client certificate over real TLS, and a sender
(smtplib with STARTTLS). Nothing here resolves a name through DNS: the relay gets a
:class:`sigsync.StaticResolver`.

The next hop is written with the standard library only (sockets, ``ssl``), not with the relay's
code: it reads commands line by line and the data up to the lone dot, and records what it took.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sigsync
from conftest import REPO

PKI = REPO / "sigsync-core" / "tests" / "relay" / "pki"
CONTOSO_ID = "9b1c8a4e-1d2f-4c3b-8a7e-5f6d7c8b9a01"
FABRIKAM_ID = "4f1e2d3c-5b6a-4978-8a9b-0c1d2e3f4a5b"
LOOP_HEADER = "X-Sigsync-Processed: c7f3a9e1b2d4"
NEXT_HOP_NAME = "contoso.mail.protection.test"
RESOLVER = sigsync.StaticResolver(hosts={NEXT_HOP_NAME: ["127.0.0.1"]})


def wait_until(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    """Polls ``condition`` until it holds; fails after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def signature_toml(company: str) -> str:
    return f"""
accepted_domains = ["contoso.com"]

[fallback]
companyName = "{company}"

[signatures.standard]
html = "<p><b>{{{{ displayName }}}}</b><br>{{{{ jobTitle }}}}<br>{{{{ companyName }}}}</p>"
text = "{{{{ displayName }}}}\\n{{{{ jobTitle }}}}\\n{{{{ companyName }}}}"

[[rules]]
name = "everyone"
signature = "standard"

[directory]
source = "memory"
[directory.users."adele@contoso.com"]
displayName = "Adele Vance"
jobTitle = "Retail Manager"
"""


def write_tenant(folder: Path, company: str = "Contoso Ltd") -> None:
    """The allow-list and contoso's profile and signature configuration under ``folder``."""
    (folder / "contoso").mkdir(parents=True, exist_ok=True)
    (folder / "allow.txt").write_text("# Exchange Online (here: loopback)\n127.0.0.0/8\n")
    (folder / "contoso" / "profile.json").write_text(
        '{"smart_hosts": ["relay.test"], "tls_domain": "", "certificate_name": "contoso.relay.test",'
        ' "loop_header": {"name": "X-Sigsync-Processed", "value": "c7f3a9e1b2d4"}}'
    )
    (folder / "contoso" / "signature.toml").write_text(signature_toml(company))


def settings(next_hop_port: int) -> dict[str, Any]:
    """The relay's settings as keyword arguments of :class:`sigsync.Relay` (relative paths
    against the tenant folder)."""
    return {
        "listener": {
            "address": "127.0.0.1:0",
            "hostname": "relay.test",
            "certificate": PKI / "relay.pem",
            "private_key": PKI / "relay.key",
            "allow_list": "allow.txt",
        },
        "limits": {"max_message_size": 1048576, "bytes_in_flight": 67108864},
        "timeouts": {"connect": 5, "processing": 20, "injection": 5, "shutdown_grace": 20},
        "next_hop": {"roots": {"file": PKI / "root.pem"}},
        "metrics": {"address": "127.0.0.1:0"},
        "tenants": [
            {
                "name": "contoso",
                "tenant_id": CONTOSO_ID,
                "initial_domain": "contoso.onmicrosoft.com",
                "profile": "contoso/profile.json",
                "signatures": "contoso/signature.toml",
                "client_certificate": PKI / "contoso.pem",
                "client_key": PKI / "contoso.key",
                "return_endpoint": f"{NEXT_HOP_NAME}:{next_hop_port}",
            }
        ],
    }


def relay_toml(next_hop_port: int) -> str:
    """The same settings as :func:`settings`, as the relay's TOML file."""
    return f"""
[listener]
address = "127.0.0.1:0"
hostname = "relay.test"
certificate = "{PKI / 'relay.pem'}"
private_key = "{PKI / 'relay.key'}"
allow_list = "allow.txt"

[limits]
max_message_size = 1048576
bytes_in_flight = 67108864

[timeouts]
connect = 5
processing = 20
injection = 5
shutdown_grace = 20

[next_hop]
roots = {{ file = "{PKI / 'root.pem'}" }}

[metrics]
address = "127.0.0.1:0"

[[tenants]]
name = "contoso"
tenant_id = "{CONTOSO_ID}"
initial_domain = "contoso.onmicrosoft.com"
profile = "contoso/profile.json"
signatures = "contoso/signature.toml"
client_certificate = "{PKI / 'contoso.pem'}"
client_key = "{PKI / 'contoso.key'}"
return_endpoint = "{NEXT_HOP_NAME}:{next_hop_port}"
"""


def message(msg_id: str, tenant_id: str = CONTOSO_ID) -> bytes:
    """A message as Exchange Online hands it to the connector (its cross-tenant headers on)."""
    return (
        f"X-MS-Exchange-CrossTenant-Id: {tenant_id}\r\n"
        "X-MS-Exchange-CrossTenant-AuthAs: Internal\r\n"
        "X-OriginatorOrg: contoso.com\r\n"
        "From: Adele Vance <adele@contoso.com>\r\n"
        "To: <bob@example.org>\r\n"
        "Subject: Quarterly numbers\r\n"
        f"Message-ID: <{msg_id}@contoso.com>\r\n"
        "Date: Fri, 4 Dec 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Hello Bob,\r\n"
        ".the numbers are attached.\r\n"
    ).encode()


def send(addr: tuple[str, int], msg: bytes) -> tuple[int, bytes]:
    """Sends ``msg`` from adele@contoso.com over STARTTLS (the relay's certificate checked
    against the test root) and returns the reply to the data. A refusal before the data raises
    ``smtplib.SMTPResponseException`` (or a subclass) with the code."""
    ctx = ssl.create_default_context(cafile=str(PKI / "root.pem"))
    smtp = smtplib.SMTP(addr[0], addr[1], local_hostname="exchange.test", timeout=60)
    try:
        smtp.starttls(context=ctx)
        smtp.ehlo("exchange.test")
        code, text = smtp.mail("adele@contoso.com")
        if code >= 400:
            raise smtplib.SMTPSenderRefused(code, text, "adele@contoso.com")
        code, text = smtp.rcpt("bob@example.org")
        if code >= 400:
            raise smtplib.SMTPRecipientsRefused({"bob@example.org": (code, text)})
        return smtp.data(msg)
    finally:
        # A relay shutting down may answer QUIT with 421 (RFC 5321 3.8); the data's reply counts.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def refusal(addr: tuple[str, int], msg: bytes) -> int:
    """The code the relay refuses ``msg`` with (fails when it is accepted)."""
    try:
        code, text = send(addr, msg)
    except smtplib.SMTPResponseException as e:
        return e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        return next(iter(e.recipients.values()))[0]
    assert code >= 400, f"accepted: {code} {text!r}"
    return code


def healthz(relay: sigsync.Relay) -> int:
    """The status of the relay's ``/healthz`` (503 once it is shutting down)."""
    addr = relay.metrics_addr
    assert addr is not None
    try:
        with urllib.request.urlopen(f"http://{addr[0]}:{addr[1]}/healthz", timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


@dataclass
class Delivery:
    """A message the next hop took."""

    mail_from: str
    rcpt_to: list[str]
    data: str
    client_certificate: str
    """The CN of the certificate the relay presented."""

    def text(self) -> str:
        """The message's text body, decoded (the signature may re-encode it)."""
        msg = email.message_from_string(self.data, policy=email.policy.default)
        part = msg.get_body(("plain",))
        assert isinstance(part, email.message.EmailMessage)
        return str(part.get_content()).replace("\r\n", "\n")


@dataclass
class NextHop:
    """The tenant's Exchange Online inbound endpoint on loopback: STARTTLS with a certificate of
    the test CA, a client certificate of the test CA required (the relay must send the chain up
    to the root) and its name checked (``550 5.7.64`` on MAIL otherwise, as Exchange does).

    ``hold`` holds the final reply while it is clear; ``data_received`` is set when a message
    arrived."""

    certificate_name: str = "contoso.relay.test"
    delivered: list[Delivery] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    data_received: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.hold.set()
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(PKI / "nexthop.pem", PKI / "nexthop.key")
        self._ctx.verify_mode = ssl.CERT_REQUIRED
        self._ctx.load_verify_locations(PKI / "root.pem")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.hold.set()
        self._listener.close()

    def messages(self) -> list[Delivery]:
        with self._lock:
            return list(self.delivered)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            self._converse(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def _converse(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        tls: ssl.SSLSocket | None = None
        peer_name = ""
        mail_from = ""
        rcpts: list[str] = []

        def reply(text: str) -> None:
            (tls or conn).sendall(text.encode() + b"\r\n")

        reply("220 mx.test Microsoft ESMTP MAIL Service ready")
        while True:
            line = reader.readline()
            if not line:
                return
            verb = line[:4].decode("ascii", "replace").upper()
            arg = line[5:].decode().strip() if len(line) > 5 else ""
            if verb in ("EHLO", "HELO"):
                reply("250-mx.test Hello\r\n250-SIZE 157286400\r\n" + ("250 8BITMIME" if tls else "250 STARTTLS"))
            elif verb == "STAR":
                reply("220 2.0.0 SMTP server ready")
                tls = self._ctx.wrap_socket(conn, server_side=True)
                subject: Any = (tls.getpeercert() or {}).get("subject", ())
                peer_name = next((v for rdn in subject for k, v in rdn if k == "commonName"), "")
                reader = tls.makefile("rb")
            elif verb == "MAIL":
                if tls is None:
                    reply("530 5.7.0 Must issue a STARTTLS command first")
                elif peer_name != self.certificate_name:
                    reply("550 5.7.64 TenantAttribution; Relay Access Denied")
                else:
                    mail_from, rcpts = arg, []
                    reply("250 2.1.0 Sender OK")
            elif verb == "RCPT":
                rcpts.append(arg)
                reply("250 2.1.5 Recipient OK")
            elif verb == "DATA":
                reply("354 Start mail input; end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    data_line = reader.readline()
                    if not data_line:
                        return
                    if data_line == b".\r\n":
                        break
                    lines.append(data_line[1:] if data_line.startswith(b".") else data_line)
                self.data_received.set()
                self.hold.wait()
                with self._lock:
                    self.delivered.append(Delivery(mail_from, rcpts, b"".join(lines).decode(), peer_name))
                reply("250 2.6.0 Queued mail for delivery")
            elif verb in ("RSET", "NOOP"):
                reply("250 2.0.0 OK")
            elif verb == "QUIT":
                reply("221 2.0.0 Service closing transmission channel")
                return
            else:
                reply("502 5.5.2 Command not recognized")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
