"""A webhook receiver for tollgate's webhook tests: an HTTP server on 127.0.0.1 (port 0) that
verifies every delivery with the Standard Webhooks reference library (`standardwebhooks`), as a
receiver in production would, and reports each one on stdout as a JSON line.

    python3 webhook_receiver.py SECRETS_FILE [--fail N]

SECRETS_FILE holds the signing secrets (`whsec_...`), one per line, and is read at each request (the
test writes it once tollgate has shown the secret). The first line on stdout is {"port": P}. Then,
per request: {"path", "verified": true|false, "error", "status", "headers": {webhook-id,
webhook-timestamp, webhook-signature, ...}, "payload"}. A request verifies if any of the secrets
verifies it (a receiver that knows only one of a rotation's two secrets). The first N
requests (--fail N) are answered 500 after they are verified, to make tollgate retry; the others
204. Bodies are read in full (Content-Length).
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

secrets_file = sys.argv[1]
fail = int(sys.argv[sys.argv.index("--fail") + 1]) if "--fail" in sys.argv else 0
seen = 0
# Requests are handled on threads: one line at a time on stdout, and one count.
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified, error, payload = False, "no secret configured", None
        with open(secrets_file) as f:
            secrets = [line.strip() for line in f if line.strip()]
        for s in secrets:
            try:
                payload = Webhook(s).verify(body, headers)
                verified = True
                break
            except Exception as e:  # the library raises WebhookVerificationError
                error = str(e)
        with lock:
            seen += 1
            status = 500 if seen <= fail else 204
        report = {
            "path": self.path,
            "verified": verified,
            "error": None if verified else error,
            "status": status,
            "headers": {k: headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")},
            "payload": payload,
        }
        with lock:
            print(json.dumps(report), flush=True)
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
