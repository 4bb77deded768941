"""A real SMTP server for the email tests (aiosmtpd), on a loopback port.

Usage: server.py OUT_DIR [--tls CERT KEY]

Prints the port it listens on, then writes each message it accepts to
OUT_DIR/NNNNNN.json (decoded: envelope, headers, the plain-text and HTML
parts, and the raw message). A recipient whose address starts with
"refused" is refused with 550. With --tls it offers STARTTLS with that
certificate and refuses mail before it (require_starttls).
"""

import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refused"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"] or ""),
            "date": str(msg["date"] or ""),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
            "raw": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
        }
        self.count += 1
        name = os.path.join(self.out, "%06d.json" % self.count)
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted"


async def main():
    out = sys.argv[1]
    context = None
    if len(sys.argv) >= 5 and sys.argv[2] == "--tls":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
    handler = Handler(out)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            tls_context=context,
            require_starttls=context is not None,
            hostname="smtp.test",
        ),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    await server.serve_forever()


asyncio.run(main())
