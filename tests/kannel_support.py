"""Real Kannel for the tests: a bearerbox, an smsbox whose sms-service calls the app, and one
fakesmsc (Kannel's fake SMSC client) per carrier, all on ports of their own, with their
configuration and logs in a temporary folder. Debian's `kannel` and `kannel-extras` packages
(`make system-deps`) provide them."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

BEARERBOX, SMSBOX = Path("/usr/sbin/bearerbox"), Path("/usr/sbin/smsbox")
FAKESMSC = Path("/usr/lib/kannel/test/fakesmsc")
HOST = "127.0.0.1"
ADMIN_PORT, SMSBOX_PORT = 5601, 5602
SMSC_PORTS = {"smart": 5611, "cellcard": 5612, "metfone": 5613}
GET_URL = "http://{host}:{port}/webhooks/kannel/inbound?key={key}&from=%p&to=%P&text=%a&smsc=%i&id=%I&ts=%T"


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
        "group = sms-service\nkeyword = default\ncatch-all = true\nmax-messages = 3\nconcatenation = true\nomit-empty = true\n"
        f"get-url = \"{GET_URL.format(host=HOST, port=app_port, key=key)}\"\n"
    )


@dataclass
class FakeSmsc:
    carrier: str
    process: subprocess.Popen
    output: Path

    def replies(self) -> list[str]:
        """The texts of the messages Kannel sent back to this SMSC, in order."""
        found = re.findall(r"Got message \d+: <\S+ \S+ text (.*)>$", self.output.read_text(errors="replace"), re.M)
        return found


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


