"""Real Kannel for the tests: a bearerbox, an smsbox whose sms-service calls the app, and one
fakesmsc (Kannel's fake SMSC client) per carrier, all on ports of their own, with their
configuration and logs in a temporary folder. Debian's `kannel` and `kannel-extras` packages
(`make system-deps`) provide them."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote_to_bytes

from tests.processes import stop

BEARERBOX, SMSBOX = Path("/usr/sbin/bearerbox"), Path("/usr/sbin/smsbox")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
HOST = "127.0.0.1"
ADMIN_PORT, SMSBOX_PORT = 5601, 5602
SMSC_PORTS = {"smart": 5611, "cellcard": 5612, "metfone": 5613}
GET_URL = "http://{host}:{port}/webhooks/kannel/inbound?key={key}&from=%p&to=%P&text=%a&smsc=%i&id=%I&ts=%T&charset=%C&coding=%c"


def config(folder: Path, app_port: int, key: str) -> str:
    """A reply leaves through the SMSC its message came from (allowed-smsc-id)."""
    smscs = "".join(
        f"group = smsc\nsmsc = fake\nsmsc-id = {carrier}\nallowed-smsc-id = {carrier}\nport = {port}\nconnect-allow-ip = {HOST}\n\n"
        for carrier, port in SMSC_PORTS.items()
    )
    return (
        f"group = core\nadmin-port = {ADMIN_PORT}\nadmin-password = test\nadmin-interface = {HOST}\n"
        f"smsbox-port = {SMSBOX_PORT}\nbox-allow-ip = {HOST}\nlog-file = \"{folder}/bearerbox.log\"\nlog-level = 1\n\n"
        f"{smscs}"
        f"group = smsbox\nbearerbox-host = {HOST}\nbearerbox-port = {SMSBOX_PORT}\nlog-file = \"{folder}/smsbox.log\"\nlog-level = 1\n\n"
        "group = sms-service\nkeyword = default\ncatch-all = true\nmax-messages = 3\nconcatenation = true\nomit-empty = true\naccept-x-kannel-headers = true\n"
        f"get-url = \"{GET_URL.format(host=HOST, port=app_port, key=key)}\"\n"
    )


@dataclass
class FakeSmsc:
    carrier: str
    process: subprocess.Popen
    output: Path

    def replies(self) -> list[str]:
        """The texts of the messages Kannel sent back to this SMSC, in order: 7-bit as they are,
        UCS-2 url-encoded (a space as "+")."""
        found = re.findall(r"Got message \d+: <\S+ \S+ (text|ucs-2) (.*)>$", self.output.read_text(errors="replace"), re.M)
        return [text if coding == "text" else unquote_to_bytes(text.replace("+", "%20")).decode("utf-16-be") for coding, text in found]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.args[0]} is not listening on {port}:\n{log.read_text(errors='replace')[-2000:]}")




@contextmanager
def running(folder: Path, app_port: int, key: str) -> Iterator["Gateway"]:
    """Bearerbox and smsbox with the configuration above, stopped at the end with every
    fakesmsc the test started."""
    conf = folder / "kannel.conf"
    conf.write_text(config(folder, app_port, key))
    gateway = Gateway(folder, [])
    try:
        bearerbox = gateway.start(BEARERBOX, conf, output=folder / "bearerbox.out")
        wait_for_port(SMSBOX_PORT, bearerbox, folder / "bearerbox.out")
        gateway.start(SMSBOX, conf, output=folder / "smsbox.out")
        yield gateway
    finally:
        for process in reversed(gateway.started):
            stop(process)


@dataclass
class Gateway:
    folder: Path
    started: list[subprocess.Popen]

    def start(self, *command, output: Path) -> subprocess.Popen:
        process = subprocess.Popen([str(part) for part in command], stdout=output.open("w"), stderr=subprocess.STDOUT)
        self.started.append(process)
        return process

    def send(self, carrier: str, messages: list[str], times: int) -> FakeSmsc:
        """A fakesmsc for `carrier` sending `times` messages, each one of `messages` (fakesmsc's
        lines: "sender receiver text|ucs2 ...", chosen at random when several)."""
        output = self.folder / f"fakesmsc-{carrier}.out"
        wait_for_port(SMSC_PORTS[carrier], self.started[0], self.folder / "bearerbox.out")
        process = self.start(FAKESMSC, "-H", HOST, "-r", SMSC_PORTS[carrier], "-i", "0.05", "-m", times, *messages, output=output)
        return FakeSmsc(carrier, process, output)

    def wait_for_replies(self, expected: list[tuple[FakeSmsc, int]], seconds: float = 60) -> dict[str, list[str]]:
        """Each SMSC's replies, once it has as many as expected (or the time is up)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(len(smsc.replies()) < wanted for smsc, wanted in expected):
            time.sleep(0.2)
        return {smsc.carrier: smsc.replies() for smsc, _ in expected}

    def log(self) -> str:
        return (self.folder / "smsbox.log").read_text(errors="replace")[-3000:]
