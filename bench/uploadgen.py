"""Contact files for the upload benchmark, and one upload of a file as a client sends it.

The files hold distinct valid San Francisco numbers and two variables per row, as
a customer's export would; the body goes from disk to the socket a block at a
time, so the client's own memory stays out of the measurement.
"""

import http.client
import json
import time
from pathlib import Path

FIRST_NUMBER = 2_000_000


def numbers(rows: int):
    return (f"+1415{n:07d}" for n in range(FIRST_NUMBER, FIRST_NUMBER + rows))


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w", newline="") as out:
        out.write("phone_number,first_name,plan\r\n")
        for n, number in enumerate(numbers(rows)):
            out.write(f"{number},Name {n},{'gold' if n % 3 else 'silver'}\r\n")
    return path


def write_json(path: Path, rows: int) -> Path:
    with path.open("w") as out:
        out.write('{"contacts": [')
        for n, number in enumerate(numbers(rows)):
            item = {"phone_number": number, "variables": {"first_name": f"Name {n}",
                                                          "plan": "gold" if n % 3 else "silver"}}
            out.write(("," if n else "") + json.dumps(item))
        out.write("]}")
    return path


def upload(port: int, key: str, campaign_id: str, path: Path, content_type: str,
           timeout: float = 900) -> dict:
    """POSTs the file to the campaign's contacts: status, answer and seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    size = path.stat().st_size
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type, "Content-Length": str(size)}
    started = time.monotonic()
    with path.open("rb") as body:
        connection.request("POST", f"/api/v1/campaigns/{campaign_id}/contacts", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    seconds = time.monotonic() - started
    connection.close()
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = {"raw": answer[:500].decode(errors="replace")}
    return {"status": response.status, "answer": parsed, "seconds": seconds, "bytes": size}
