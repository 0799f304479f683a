"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1, each message received written whole to
<dir>/<n>.eml (n counts from 1 in arrival order), and decoded by Python's email package into <dir>/<n>.json
(envelope recipients, To, Subject, Message-ID, the text body). Prints `PORT <n>` once it listens, then serves
until killed.

    python3 tests/support/smtp_sink.py DIR [--fail-first N]

--fail-first N answers the first N messages with `451 4.3.0 try again later` (a transient failure), so the tests
can watch the worker retry.
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder: str, fail_first: int) -> None:
        self.folder = folder
        self.fail_left = fail_first
        self.seq = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 try again later"
        n = next(self.seq)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        decoded = {
            "envelope_to": envelope.rcpt_tos,
            "to": str(msg["To"]),
            "from": str(msg["From"]),
            "subject": str(msg["Subject"]),
            "message_id": str(msg["Message-ID"]),
            "body": msg.get_body(preferencelist=("plain",)).get_content(),
        }
        for name, data in ((f"{n}.eml", raw), (f"{n}.json", json.dumps(decoded).encode())):
            tmp = os.path.join(self.folder, f".{name}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(self.folder, name))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--fail-first", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    port = free_port()
    c = Controller(Sink(a.dir, a.fail_first), hostname="127.0.0.1", port=port)
    c.start()
    print(f"PORT {port}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
