"""Our webhook signatures against an independent Standard Webhooks implementation (the
`standardwebhooks` package on PyPI), on webhooks the real `kenar-events dev` binary delivers to a
receiver this test runs: every delivery verifies, a tampered body or a wrong secret does not, and
a retried delivery keeps its webhook-id and still verifies.

Usage: python test_standard_webhooks.py path/to/kenar-events
"""

import base64
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

results = {"passed": 0, "failed": 0}

# The server's default retry schedule retries a failed delivery after 5 s; allow for polling.
DELIVERY_WAIT = 15
RETRY_WAIT = 20


def check(name, fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        results["failed"] += 1
        print(f"FAIL {name}: {e!r}")
    else:
        results["passed"] += 1
        print(f"ok   {name}")


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every POST (headers and raw body bytes) and
    answers 200, except for the first delivery of a chatbot message whose id is in `fail_once`,
    which it answers 500."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # dicts: headers (list of (name, value)), body (bytes), status (int)
        self.fail_once = set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 200
                with receiver.lock:
                    message_id = chatbot_message_id(body)
                    if message_id in receiver.fail_once:
                        receiver.fail_once.discard(message_id)
                        status = 500
                    receiver.requests.append(
                        {"headers": list(self.headers.items()), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def matching(self, predicate):
        with self.lock:
            return [r for r in self.requests if predicate(r)]

    def wait_for(self, predicate, count, timeout):
        deadline = time.monotonic() + timeout
        while True:
            found = self.matching(predicate)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def chatbot_message_id(body):
    try:
        return json.loads(body).get("new_chatbot_message", {}).get("id")
    except (ValueError, AttributeError):
        return None


def payment_id(body):
    try:
        return json.loads(body).get("payment_transaction", {}).get("id")
    except (ValueError, AttributeError):
        return None


def headers_of(request):
    """The headers as a dict, as a web framework would hand them to `Webhook.verify`; a header
    sent twice is an error here (the library would see only one of its values)."""
    out = {}
    for name, value in request["headers"]:
        assert name.lower() not in out, f"header {name} sent twice"
        out[name.lower()] = value
    return out


def call(method, url, token, body=None):
    """A JSON call; returns (HTTP status, parsed body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def start_dev(binary, workdir, webhook_url):
    log = open(os.path.join(workdir, "server.log"), "w")  # noqa: SIM115 - closed with the dir
    proc = subprocess.Popen(
        [binary, "dev", "--json", "--listen", "127.0.0.1:0", "--webhook-url", webhook_url],
        cwd=workdir, stdout=subprocess.PIPE, stderr=log, text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=20)
        raise SystemExit(f"kenar-events dev printed nothing (exit {proc.returncode}); "
                         f"see {log.name}")
    return proc, json.loads(line)


def main():
    binary = os.path.abspath(sys.argv[1])
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as workdir:
        proc, info = start_dev(binary, workdir, receiver.url)
        try:
            run(info, receiver)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            receiver.stop()
            if results["failed"]:
                with open(os.path.join(workdir, "server.log")) as f:
                    tail = f.read()[-4000:]
                if tail:
                    print("--- server log (tail) ---\n" + tail)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


def run(info, receiver):
    base = info["base_url"]
    slug = info["app_slug"]
    state = {}

    def chatbot_message(message_id):
        return {"new_chatbot_message": {
            "id": message_id, "conversation": {"id": "c", "type": "BOT"},
            "sender": {"type": "HUMAN"}, "type": "TEXT", "sent_at": 1729429926140000,
            "text": "سلام"}, "app_slug": slug, "user_id": "u-1"}

    def publish(events):
        status, body = call("POST", f"{base}/v1/platform/events", info["platform_token"],
                            {"events": events})
        assert status == 200, (status, body)
        assert len(body["results"]) == len(events), body
        for r in body["results"]:
            assert isinstance(r.get("event_id"), str) and r["event_id"], body
        return [r["event_id"] for r in body["results"]]

    def the_app_gets_a_signing_secret():
        status, body = call("PATCH", f"{base}/admin/v1/apps/{slug}", info["admin_token"],
                            {"generate_signing_secret": True})
        assert status == 200, (status, body)
        secret = body["signing_secret"]
        assert secret.startswith("whsec_"), secret
        assert len(base64.b64decode(secret[len("whsec_"):])) >= 24, secret
        state["secret"] = secret

    def a_chatbot_message_and_a_payment_are_accepted():
        publish([
            chatbot_message("m-1"),
            {"payment_transaction": {
                "id": "p-1", "cost_rials": 1000, "extra_details": "x",
                "state": "TRANSACTION_STATE_COMPLETED", "type": "TRANSACTION_TYPE_REORDER"},
             "app_slug": slug},
        ])

    def both_are_delivered_once():
        chat = receiver.wait_for(lambda r: chatbot_message_id(r["body"]) == "m-1", 1,
                                 DELIVERY_WAIT)
        pay = receiver.wait_for(lambda r: payment_id(r["body"]) == "p-1", 1, DELIVERY_WAIT)
        assert len(chat) == 1 and len(pay) == 1, (len(chat), len(pay))
        state["chat"], state["pay"] = chat[0], pay[0]

    def every_delivery_verifies_with_standardwebhooks():
        wh = Webhook(state["secret"])
        deliveries = receiver.matching(lambda r: True)
        assert len(deliveries) >= 2, len(deliveries)
        for d in deliveries:
            parsed = wh.verify(d["body"], headers_of(d))
            assert parsed == json.loads(d["body"]), parsed

    def the_signature_header_is_standard():
        for d in (state["chat"], state["pay"]):
            h = headers_of(d)
            assert h["webhook-signature"].startswith("v1,"), h["webhook-signature"]
            assert abs(int(h["webhook-timestamp"]) - time.time()) < 60, h["webhook-timestamp"]

    def the_bodies_are_the_contracts_webhooks():
        chat = json.loads(state["chat"]["body"])
        assert chat["type"] == "NEW_CHATBOT_MESSAGE", chat
        assert chat["new_chatbot_message"]["text"] == "سلام", chat
        assert chat["new_chatbot_message"]["conversation"]["type"] == "BOT", chat
        pay = json.loads(state["pay"]["body"])
        assert pay["type"] == "PAYMENT_TRANSACTION", pay
        assert pay["payment_transaction"]["state"] == "TRANSACTION_STATE_COMPLETED", pay
        assert int(pay["payment_transaction"]["cost_rials"]) == 1000, pay

    def authorization_is_the_identification_key():
        for d in (state["chat"], state["pay"]):
            assert headers_of(d)["authorization"] == info["identification_key"], headers_of(d)

    def content_type_is_json():
        for d in (state["chat"], state["pay"]):
            ctype = headers_of(d)["content-type"]
            assert ctype.split(";")[0].strip().lower() == "application/json", ctype

    def webhook_ids_are_msg_ids_one_per_event():
        ids = [headers_of(d)["webhook-id"] for d in (state["chat"], state["pay"])]
        assert all(i.startswith("msg_") for i in ids), ids
        assert ids[0] != ids[1], ids

    def a_tampered_body_fails_verification():
        wh = Webhook(state["secret"])
        for d, original, forged in ((state["chat"], b'"m-1"', b'"m-9"'),
                                    (state["pay"], b'"p-1"', b'"p-9"')):
            assert original in d["body"], d["body"]
            expect_rejected(lambda: wh.verify(d["body"].replace(original, forged),
                                              headers_of(d)))
            expect_rejected(lambda: wh.verify(d["body"] + b" ", headers_of(d)))

    def a_wrong_secret_fails_verification():
        wrong = Webhook("whsec_" + base64.b64encode(os.urandom(32)).decode())
        for d in (state["chat"], state["pay"]):
            expect_rejected(lambda: wrong.verify(d["body"], headers_of(d)))

    def another_webhook_id_fails_verification():
        wh = Webhook(state["secret"])
        d = state["chat"]
        h = {**headers_of(d), "webhook-id": headers_of(state["pay"])["webhook-id"]}
        expect_rejected(lambda: wh.verify(d["body"], h))

    def a_retried_delivery_keeps_its_id_and_verifies():
        with receiver.lock:
            receiver.fail_once.add("m-retry")
        publish([chatbot_message("m-retry")])
        tries = receiver.wait_for(lambda r: chatbot_message_id(r["body"]) == "m-retry", 2,
                                  RETRY_WAIT)
        assert [t["status"] for t in tries] == [500, 200], [t["status"] for t in tries]
        first, second = (headers_of(t) for t in tries)
        assert first["webhook-id"].startswith("msg_"), first
        assert second["webhook-id"] == first["webhook-id"], (first, second)
        assert int(second["webhook-timestamp"]) >= int(first["webhook-timestamp"]), \
            (first, second)
        assert tries[0]["body"] == tries[1]["body"], tries
        wh = Webhook(state["secret"])
        for t in tries:
            wh.verify(t["body"], headers_of(t))

    def nothing_is_delivered_twice_after_success():
        # m-1 and p-1 were answered 200 long ago (the retry wait above): still one each.
        assert len(receiver.matching(lambda r: chatbot_message_id(r["body"]) == "m-1")) == 1
        assert len(receiver.matching(lambda r: payment_id(r["body"]) == "p-1")) == 1

    for name, fn in list(locals().items()):
        if callable(fn) and name not in ("chatbot_message", "publish"):
            check(name, fn)


def expect_rejected(verify):
    try:
        verify()
    except WebhookVerificationError:
        return
    raise AssertionError("verification passed; it should have failed")


if __name__ == "__main__":
    main()
