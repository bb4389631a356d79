"""Each thread's own line to a Redis server, for the commands every message sends: its rate
limit count, and the job that sends its notices. The client's way (taking a pooled connection
and giving it back, its retry and metrics around the command) cost as much CPU as the round trip
itself.

A line knows the replies it owes. A reply nobody waits for (a job posted, a count whose message
failed before reading it) is read before the line's next command, so that every reply goes to
its own command; one that is an error is logged then, with what it was for."""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from itertools import accumulate

from redis import Redis
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

log = logging.getLogger(__name__)


def ask(redis: Redis, *command, script: str | None = None):
    """Send `command` on this thread's line to `redis`'s server and read its reply. An EVALSHA
    of `script` loads it when the server lacks it (after a restart); a broken connection is
    replaced once, as the client's retry would. A restart does both: the new connection finds
    no script."""
    return _asked(redis, command, script)


def _asked(redis: Redis, command: tuple | bytes, script: str | None):
    line = line_to(redis)
    reconnected = loaded = False
    while True:
        try:
            line.send(command)
            return line.read()
        except NoScriptError:
            if script is None or loaded:
                raise
            redis.script_load(script)
            loaded = True
        except (ConnectionError, TimeoutError):
            if reconnected:
                raise
            line.drop()  # the next command connects again
            reconnected = True


def post(redis: Redis, script: bytes, what: str) -> None:
    """Send `script`, commands packed to run in order as one (InOrder.filled), on this
    thread's line, and go on without its reply: it is read before the line's next command, an
    error then logged as `what` failing. A broken connection is replaced once. A send that
    fails sent no whole command, so the commands run once at most; lost with a connection,
    they are never known to have failed: what is posted must be safe to lose."""
    line = line_to(redis)
    try:
        line.send(script, what)
    except (ConnectionError, TimeoutError):  # the line dropped the connection: sent again on a new one
        line.send(script, what)


def run_in_order(redis: Redis, script: bytes) -> None:
    """Run `script`, commands packed to run in order as one (InOrder.filled), on this
    thread's line, nothing coming between them, and wait for the end (an error raises)."""
    _asked(redis, script, None)


class InOrder:
    """Commands to run in order as one (the EVAL of _RUN_IN_ORDER), for run_in_order or post,
    packed for the wire once as redis-py's own packer packs a command (RESP, each word encoded
    by the client's `encoder`; the same bytes as hiredis's with the default encoding). `filled`
    packs only the words given anew, by their place (`place`): RQ's commands for a job change
    in a few words from one job to the next, and the client's packing of all of them cost a
    fifth of a job's post, which every message with notices makes."""

    def __init__(self, commands: list[tuple], encoder):
        self._encode = encoder.encode
        words = ("EVAL", _RUN_IN_ORDER, 0, *(word for command in commands for word in (len(command), *command)))
        self._head = b"*%d\r\n" % len(words)
        self._pieces = [self._piece(word) for word in words]
        # Where each command's first word is among the words: after EVAL, the script, 0, and
        # each command's own count of words.
        self._starts = list(accumulate((len(command) + 1 for command in commands[:-1]), initial=4))

    def place(self, command: int, at: int) -> int:
        """The place of the word at `at` of the `command`th command."""
        return self._starts[command] + at

    def filled(self, words: dict[int, object]) -> bytes:
        """The commands with `words` in their places."""
        pieces = self._pieces.copy()
        for place, word in words.items():
            pieces[place] = self._piece(word)
        return self._head + b"".join(pieces)

    def _piece(self, word) -> bytes:
        data = self._encode(word)
        return b"$%d\r\n%b\r\n" % (len(data), data)


# The commands, each as its number of words then its words, run in order; nothing comes between
# them, and one that fails stops the rest. EVAL rather than EVALSHA: a server just restarted
# knows no scripts, and nobody waits for a posted script's reply that would say so.
_RUN_IN_ORDER = """
local at = 1
while at <= #ARGV do
  local size = tonumber(ARGV[at])
  redis.call(unpack(ARGV, at + 1, at + size))
  at = at + size + 1
end
"""


class Line:
    """This thread's own connection to a Redis server, of its client's pool's class and settings
    but outside it (never waited for, nor counted against its maximum), with the replies it owes
    (what each is for, oldest first). Its `turn` moves at every command sent and every
    connection dropped: a reader that sent a command and finds the turn where it left it knows
    the next reply is its own."""

    def __init__(self, redis: Redis):
        pool = redis.connection_pool
        self.redis, self.connection = redis, pool.connection_class(**pool.connection_kwargs)
        self.owed: deque[str] = deque()
        self.turn = 0

    def send(self, command: tuple | bytes, what: str = "a Redis command") -> None:
        """Send `command`: its words, or it packed (InOrder)."""
        try:
            self._read_owed()
            if isinstance(command, bytes):
                self.connection.send_packed_command([command])
            else:
                self.connection.send_command(*command)
        except (ConnectionError, TimeoutError):
            self.drop()  # the next command connects again
            raise
        self.owed.append(what)
        self.turn += 1

    def _read_owed(self) -> None:
        while self.owed:
            what = self.owed[0]
            try:
                self.read()
            except ResponseError as error:  # nobody waits for it: said, and the line goes on
                log.warning("%s failed in Redis: %s", what, error)

    def read(self):
        self.owed.popleft()
        return self.connection.read_response()

    def drop(self) -> None:
        """Close the connection, with the replies it owed: the next command connects again."""
        self.connection.disconnect()
        self.owed.clear()
        self.turn += 1


def line_to(redis: Redis) -> Line:
    """This thread's line to `redis`'s server, closed when the thread ends. One client at a
    time: a thread that meets another (tests make many) closes the one it had. A forked child
    makes its own."""
    line = getattr(_threads, "line", None)
    if line is None or line.redis is not redis or line.connection.pid != os.getpid():
        if line is not None:
            line.drop()
        line = _threads.line = Line(redis)
    return line


_threads = threading.local()
