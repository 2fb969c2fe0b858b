"""Helpers for tests that run real processes (daphne, Celery workers)."""

import subprocess


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Asks the process to stop (SIGTERM), and kills it if it has not within `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
