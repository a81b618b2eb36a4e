"""The official Kenar Python client (`kenar` on PyPI), unmodified but for its base URL, against
the real `kenar-events dev` binary: it registers subscriptions, and every denial reaches it as
the contract's google.rpc.Status.

Usage: python test_kenar_python.py path/to/kenar-events
"""

import json
import os
import signal
import subprocess
import sys
import tempfile

import httpx
from kenar.app import Client, ClientConfig
from kenar.events import RegisterEventSubscriptionRequest

results = {"passed": 0, "failed": 0}


def check(name, fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        results["failed"] += 1
        print(f"FAIL {name}: {e!r}")
    else:
        results["passed"] += 1
        print(f"ok   {name}")


def start_dev(binary, workdir):
    proc = subprocess.Popen(
        [binary, "dev", "--json", "--listen", "127.0.0.1:0",
         "--webhook-url", "http://127.0.0.1:9/hook"],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    line = proc.stdout.readline()
    return proc, json.loads(line)


def official_client(info, api_key=None):
    client = Client(ClientConfig(
        app_slug=info["app_slug"],
        api_key=api_key or info["api_key"],
        oauth_secret="unused",
        oauth_redirect_url="http://127.0.0.1/unused",
    ))
    # The one change the contract allows: the base URL.
    client._client.base_url = info["base_url"]
    return client


def expect_denial(call, http_status, code):
    try:
        call()
    except Exception as e:  # the client raises a bare Exception carrying the body
        text = str(e)
        assert f"{http_status}" in text, text
        body = json.loads(text.split("Error Detail: ", 1)[1])
        assert body["code"] == code, body
        assert isinstance(body["message"], str) and body["message"], body
        assert isinstance(body["details"], list), body
        return
    raise AssertionError(f"expected HTTP {http_status}, the call succeeded")


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as workdir:
        proc, info = start_dev(binary, workdir)
        try:
            run(info)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


def run(info):
    admin = httpx.Client(base_url=info["base_url"],
                         headers={"Authorization": f"Bearer {info['admin_token']}"})
    client = official_client(info)
    token = info["access_token"]
    post = info["post_token"]
    Req = RegisterEventSubscriptionRequest

    def registers_on_a_post_with_metadata():
        client.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST,
                     event_resource_id=post, metadata={"chat": "42"}))
        subs = admin.get(f"/admin/v1/apps/{info['app_slug']}/subscriptions").json()
        [sub] = [s for s in subs["subscriptions"] if s["event_resource_id"] == post]
        assert sub["metadata"] == {"chat": "42"}, sub
        assert sub["active"] is True, sub

    def registers_on_all_posts_with_default_fields():
        client.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST))

    def re_registering_does_not_duplicate():
        for _ in range(3):
            client.events.register_event_subscription(
                access_token=token, max_retry=0,
                data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST,
                         event_resource_id=post, metadata={"chat": "43"}))
        subs = admin.get(f"/admin/v1/apps/{info['app_slug']}/subscriptions").json()
        mine = [s for s in subs["subscriptions"] if s["event_resource_id"] == post]
        assert len(mine) == 1 and mine[0]["metadata"] == {"chat": "43"}, mine

    def an_invalid_token_is_unauthenticated():
        expect_denial(lambda: client.events.register_event_subscription(
            access_token="kenar_at_nope", max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST)), 401, 16)

    def an_invalid_key_is_unauthenticated():
        bad = official_client(info, api_key="kenar_ak_nope")
        expect_denial(lambda: bad.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST)), 401, 16)

    def a_key_without_the_permission_is_denied():
        r = admin.post(f"/admin/v1/apps/{info['app_slug']}/keys",
                       json={"name": "send-only", "permissions": ["EVENTS_SEND"]})
        assert r.status_code == 201, r.text
        limited = official_client(info, api_key=r.json()["key"])
        expect_denial(lambda: limited.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST)), 403, 7)

    def a_token_without_the_scope_is_denied():
        r = admin.post(f"/admin/v1/apps/{info['app_slug']}/tokens",
                       json={"user_id": info["platform_user_id"], "scopes": ["USER_ID"]})
        assert r.status_code == 201, r.text
        expect_denial(lambda: client.events.register_event_subscription(
            access_token=r.json()["access_token"], max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST)), 403, 7)

    def an_unknown_post_is_not_found():
        expect_denial(lambda: client.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST,
                     event_resource_id="noSuchPo")), 404, 5)

    def another_users_post_is_denied():
        admin.post("/admin/v1/users", json={"id": "someone-else"})
        r = admin.post("/admin/v1/posts", json={"token": "othrPost", "owner_id": "someone-else"})
        assert r.status_code == 201, r.text
        expect_denial(lambda: client.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.NEW_MESSAGE_ON_POST,
                     event_resource_id="othrPost")), 403, 7)

    def the_clients_unknown_enum_value_is_invalid_argument():
        expect_denial(lambda: client.events.register_event_subscription(
            access_token=token, max_retry=0,
            data=Req(event_type=Req.EventType.UNKNOWN)), 400, 3)

    for name, fn in list(locals().items()):
        if callable(fn) and name not in ("admin", "client", "Req"):
            check(name, fn)


if __name__ == "__main__":
    main()
