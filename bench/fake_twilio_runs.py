"""What the benchmarks that send to the local fake of Twilio share (bench/outbound.py and
bench/broadcast.py): the processes they start (RQ workers, the fake, reference senders) with the
benchmark's environment, each killed with everything it started; the fake's figures; and the
reference run, the twilio client posting straight to the fake from several processes."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import harness as bench
from tests.processes import kill_running, kill_tree

ACCOUNT_SID = "AC" + "0" * 32
# argv: account SID, the fake's URL, sends, this sender's number, and "engine" to reach Twilio
# as the engine's sender does (bot.senders.Transport) instead of through twilio's own HTTP client.
REFERENCE = """
import sys
from twilio.rest import Client
http_client = None
if sys.argv[5] == "engine":
    from bot.senders import Transport
    http_client = Transport(sys.argv[2], timeout=15.0)
client = Client(sys.argv[1], "token", http_client=http_client)
client.api.base_url = sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()  # every sender is ready: the clock starts now
for i in range(int(sys.argv[3])):
    client.messages.create(from_="whatsapp:+14155238886", to="whatsapp:+2349100000001", body=f"reference {sys.argv[4]} {i}")
"""


class Processes:
    def __init__(self, env: dict, fake_port: int, log=subprocess.DEVNULL):
        self.env = env
        self.fake_url = f"http://127.0.0.1:{fake_port}"
        self.log = log  # where the workers and the fake write
        self.running: list[subprocess.Popen] = []

    def start(self, *command: str, piped: bool = False) -> subprocess.Popen:
        """The command running; `piped`: its stdin and stdout are pipes to this process."""
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True} if piped else {"stdout": self.log}
        process = subprocess.Popen(command, cwd=bench.ROOT, env=self.env, stderr=subprocess.STDOUT, **pipes)
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the process and all it started (an RQ work horse has a process group of its own)."""
        kill_tree(process)

    def stop_all(self) -> None:
        kill_running(self.running)
        self.running = []

    def fake_stats(self, what: str = "stats") -> dict:
        with urllib.request.urlopen(f"{self.fake_url}/_fake/{what}", timeout=10) as response:
            return json.loads(response.read())

    def start_fake(self) -> subprocess.Popen:
        fake = self.start(sys.executable, "-m", "tests.fake_twilio", "--port", self.fake_url.rsplit(":", 1)[1])
        for _ in range(100):
            try:
                self.fake_stats()
                return fake
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the fake Twilio did not start")

    def run_reference(self, count: int, senders: int, transport: str = "twilio") -> float:
        """Sends/s of `senders` processes posting `count` messages in all straight to a fresh fake,
        through twilio's own HTTP client ("twilio") or the engine's transport ("engine"). The clock
        starts once every sender has loaded its modules and built its client (a second or more
        of CPU each, which the engine's workers also spend before their run's clock starts)."""
        fake = self.start_fake()
        running = [self.start(sys.executable, "-c", REFERENCE, ACCOUNT_SID, self.fake_url, str(count // senders), str(n), transport,
                              piped=True)
                   for n in range(senders)]
        for sender in running:
            if sender.stdout.readline().strip() != "ready":
                raise RuntimeError("a reference sender did not start")
        started = time.perf_counter()
        for sender in running:
            sender.stdin.write("go\n")
            sender.stdin.close()
        for sender in running:
            sender.wait()
        seconds = time.perf_counter() - started
        accepted = self.fake_stats()["accepted"]
        self.kill(fake)
        return accepted / seconds
