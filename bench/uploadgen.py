"""Contact files for the upload benchmark, and one upload of a file as a client sends it.

The files hold distinct valid San Francisco numbers and six variables per row, as
a customer's export would, about 330 bytes a row: even the 10,000-row file (3.3 MB)
is past the part of a request body the server keeps in memory (Django's 2.5 MiB
spool, then ours), so comparing it with the 100,000-row file measures what the
number of rows costs, not the spool. The body goes from disk to the socket a block
at a time, so the client's own memory stays out of the measurement.
"""

import csv
import http.client
import json
import time
from pathlib import Path

FIRST_NUMBER = 2_000_000


def numbers(rows: int):
    return (f"+1415{n:07d}" for n in range(FIRST_NUMBER, FIRST_NUMBER + rows))


COLUMNS = ("first_name", "last_name", "email", "plan", "account", "note")
NOTE = "Renewal due; prefers a call in the afternoon, asked about the yearly plan and a discount " \
       "for two seats, said to call back after the holidays; no voicemail please, and speak slowly. " \
       "Best reached on the office line before four, Pacific time."


def variables(n: int) -> dict:
    return {"first_name": f"Name {n}", "last_name": f"Surname {n % 977}", "email": f"contact{n}@example.com",
            "plan": "gold" if n % 3 else "silver", "account": f"A-{n:08d}", "note": f"{NOTE} ({n})"}


def write_csv(path: Path, rows: int) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("phone_number", *COLUMNS))
        for n, number in enumerate(numbers(rows)):
            row = variables(n)
            writer.writerow((number, *(row[name] for name in COLUMNS)))
    return path


def write_json(path: Path, rows: int) -> Path:
    with path.open("w") as out:
        out.write('{"contacts": [')
        for n, number in enumerate(numbers(rows)):
            out.write(("," if n else "") + json.dumps({"phone_number": number, "variables": variables(n)}))
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
