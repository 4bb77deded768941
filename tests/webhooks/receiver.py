"""A webhook receiver for Tessera's tests.

Every POST outside /_control/ is a delivery: it is verified with the Standard
Webhooks reference library (standardwebhooks.webhooks.Webhook(secret).verify)
against each secret the test registered, recorded (webhook-id, type from the
body, whether it verified, which attempt of that id it is, headers and body),
and answered as the next planned behaviour says (200 once the plan is used
up):

  "ok"        200
  "500"       500
  "hang"      no answer until POST /_control/release (or 60 s), then 200
  "redirect"  302 to /redirected on this server (a delivery that arrives
              there was followed, which it must not be)

Control (JSON):
  POST /_control/secret   {"secret": "whsec_..."}   verify with it too
  POST /_control/plan     {"plan": ["500", "hang"]} append to the plan
  POST /_control/release  free every hung request
  GET  /_control/requests the recorded deliveries, in arrival order

Prints "listening <port>" on standard output once it listens on 127.0.0.1.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
SECRETS = []
PLAN = []
REQUESTS = []
RELEASE = threading.Event()


def verify(body, headers):
    for secret in SECRETS:
        try:
            Webhook(secret).verify(body, headers)
            return True
        except WebhookVerificationError:
            pass
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/_control/requests":
            with LOCK:
                body = json.dumps(REQUESTS).encode()
            self.answer(200, body, [("Content-Type", "application/json")])
        else:
            self.answer(404)

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/_control/"):
            return self.control(body)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            kind = json.loads(body).get("type")
        except ValueError:
            kind = None
        with LOCK:
            message_id = headers.get("webhook-id")
            attempt = 1 + sum(1 for r in REQUESTS if r["id"] == message_id)
            REQUESTS.append(
                {
                    "id": message_id,
                    "type": kind,
                    "verified": verify(body, headers),
                    "attempt": attempt,
                    "path": self.path,
                    "headers": headers,
                    "body": body.decode("utf-8", "replace"),
                    "at": time.time(),
                }
            )
            behaviour = PLAN.pop(0) if PLAN else "ok"
        if behaviour == "500":
            self.answer(500, b"planned failure")
        elif behaviour == "hang":
            RELEASE.wait(60)
            try:
                self.answer(200)
            except OSError:
                pass
        elif behaviour == "redirect":
            self.answer(302, headers=[("Location", "/redirected")])
        else:
            self.answer(200, b"ok")

    def control(self, body):
        what = json.loads(body or b"{}")
        with LOCK:
            if self.path == "/_control/secret":
                SECRETS.append(what["secret"])
            elif self.path == "/_control/plan":
                PLAN.extend(what["plan"])
            elif self.path == "/_control/release":
                RELEASE.set()
            else:
                return self.answer(404)
        self.answer(200, b"{}", [("Content-Type", "application/json")])


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
