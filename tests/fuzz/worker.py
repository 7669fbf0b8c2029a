"""Run cases in a child process, so that a crash or a hang is a reported failure.

The parent (:class:`Worker`) starts ``python -m tests.fuzz.worker`` once and sends it one case
at a time over its stdin; the child runs :func:`~tests.fuzz.compare.compare_case` and sends the
result back over its stdout. Each message is a pickle preceded by its length (8 bytes).

If the child dies (a segfault, an abort) or takes longer than ``timeout`` seconds, the parent
reports that case as the failure and starts a fresh child for the next one.
"""

import os
import pickle
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = struct.Struct("<Q")


def send(stream, obj):
    """Write ``obj`` as one message (length, then pickle)."""
    data = pickle.dumps(obj)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream):
    """Read one message, or ``None`` when the other side has closed the pipe."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    return pickle.loads(stream.read(HEADER.unpack(header)[0]))


# what the bounded run prints at its end (see conftest.py)
STATS = {"cases": 0, "ops": 0, "seconds": 0.0}


class Worker:
    """A child process that runs cases; restarted after each crash or hang."""

    def __init__(self, timeout=60.0, command=(sys.executable, "-m", "tests.fuzz.worker")):
        self.timeout = timeout
        self.command = list(command)
        self.process = None
        self.cases = 0

    def _start(self):
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        env = dict(os.environ, PYTHONPATH=path)
        self.process = subprocess.Popen(self.command, cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def run(self, name, case):
        """The child's verdict on a case: ``None`` when torch and microtorch agree, else a
        message (including when the child crashed or hung on the case)."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.cases += 1
        try:
            send(self.process.stdin, (name, case))
        except BrokenPipeError:  # the child died before reading: restart and retry once
            self.close()
            self._start()
            send(self.process.stdin, (name, case))
        deadline = time.monotonic() + self.timeout
        ready = []
        while not ready and time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [],
                                        max(0.0, deadline - time.monotonic()))
        if not ready:
            self.process.kill()
            self.process.wait()
            self.process = None
            return f"the case hung: no answer within {self.timeout:g} s (child killed)"
        reply = receive(self.process.stdout)  # a 1-tuple: (verdict,)
        if reply is None:
            code = self.process.wait()
            self.process = None
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            return f"the child process crashed on the case ({how})"
        return reply[0]

    def close(self):
        """Stop the child (kill it if it does not exit when its stdin closes)."""
        if self.process is None:
            return
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            self.process.kill()
            self.process.wait()
        self.process = None


def limit_memory():
    """Cap the child's address space (``MICROTORCH_FUZZ_MEMORY_GB``, default 4), so that a case
    which allocates far too much fails inside the child instead of exhausting the machine."""
    import resource

    limit = int(float(os.environ.get("MICROTORCH_FUZZ_MEMORY_GB", "4")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main():
    """The child's loop: read ``(op name, case)``, answer with the disagreement or ``None``."""
    # the protocol owns the real stdout; anything printed by the libraries goes to stderr
    limit_memory()
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    from .compare import compare_case

    while True:
        message = receive(requests)
        if message is None:
            return
        name, case = message
        try:
            verdict = compare_case(name, case)
        except Exception as exc:  # a bug in the comparison itself is reported, not fatal
            verdict = f"the fuzzer failed on the case: {type(exc).__name__}: {exc}"
        send(protocol, (verdict,))


if __name__ == "__main__":
    main()
