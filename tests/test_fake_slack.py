"""Tests for the test harness itself: FakeSlack driven through the real slack_sdk client, and
SlackRequests signing checked with slack_sdk's verifier and against a real Bolt app."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import requests
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.fake_slack import BOT_USER_ID, Call, FakeSlack
from tests.slack_requests import SlackRequests, sign

TOKEN = "xoxb-test"
SECRET = "shhh-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f
        assert not f.errors, f.errors


def client_for(fake: FakeSlack, token: str = TOKEN, **kwargs: Any) -> WebClient:
    return WebClient(base_url=fake.base_url, token=token, timeout=5, **kwargs)


def api_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# ---------------------------------------------------------------- recording


def test_records_calls_with_decoded_params_and_token(fake: FakeSlack) -> None:
    fake.add_channel("C1", name="general", is_member=True)
    client = client_for(fake)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]

    first = client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    second = client.chat_postMessage(channel="C1", text="again", thread_ts=first["ts"])

    assert first["ok"] and first["channel"] == "C1"
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["thread_ts"] == first["ts"]
    call = fake.calls("chat.postMessage")[0]
    assert call.token == TOKEN
    assert call.params["blocks"] == blocks  # JSON body, real list
    assert fake.last("chat.postMessage").params["text"] == "again"
    assert fake.messages[("C1", first["ts"])]["text"] == "hi"

    # Form-encoded JSON fields (chat.update sends json, files.completeUploadExternal sends form) decode too.
    client.api_call("chat.update", params={"channel": "C1", "ts": first["ts"], "blocks": json.dumps(blocks)})
    assert fake.last("chat.update").params["blocks"] == blocks


def test_get_and_query_params_are_merged(fake: FakeSlack) -> None:
    fake.add_user("U1", name="ann")
    # slack_sdk's urllib client always POSTs; a GET with a query string is what other clients send.
    body = requests.get(
        fake.base_url + "users.info?user=U1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ).json()
    assert body["ok"] and body["user"]["name"] == "ann"
    assert fake.last("users.info").params == {"user": "U1"}


def test_wait_for_blocks_until_calls_arrive(fake: FakeSlack) -> None:
    fake.auto_channels = True
    client = client_for(fake)

    def post_later() -> None:
        for i in range(3):
            client.chat_postMessage(channel="C9", text=f"m{i}")

    threading.Timer(0.05, post_later).start()
    calls = fake.wait_for("chat.postMessage", count=3, timeout=5)
    assert [c.params["text"] for c in calls] == ["m0", "m1", "m2"]
    only = fake.wait_for("chat.postMessage", lambda c: c.params["text"] == "m1")
    assert len(only) == 1 and isinstance(only[0], Call)


def test_wait_for_timeout_lists_what_was_called(fake: FakeSlack) -> None:
    client_for(fake).auth_test()
    with pytest.raises(AssertionError) as excinfo:
        fake.wait_for("chat.postMessage", timeout=0.1)
    message = str(excinfo.value)
    assert "chat.postMessage" in message and "auth.test" in message
    fake.clear()
    assert fake.calls() == []
    with pytest.raises(AssertionError, match="No calls were recorded"):
        fake.last("auth.test")


# ---------------------------------------------------------------- auth


def test_auth_test_and_token_checks(fake: FakeSlack) -> None:
    resp = client_for(fake).auth_test()
    assert resp["team_id"] == "T0001" and resp["user_id"] == BOT_USER_ID and resp["bot_id"] == "B0001"
    assert resp["enterprise_id"] is None and resp["is_enterprise_install"] is False
    assert "chat:write" in resp.headers["x-oauth-scopes"]  # Bolt reads scopes from this header

    fake.valid_tokens = {TOKEN}
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake, token="xoxb-other").auth_test()
    assert api_error(excinfo) == "invalid_auth"
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake, token="xoxb-other").chat_postMessage(channel="D1", text="x")
    assert api_error(excinfo) == "invalid_auth"

    fake.revoke(TOKEN)
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake).users_info(user=BOT_USER_ID)
    assert api_error(excinfo) == "token_revoked"

    with pytest.raises(SlackApiError) as excinfo:
        WebClient(base_url=fake.base_url).auth_test()
    assert api_error(excinfo) == "not_authed"


def test_unknown_method_is_recorded(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake).api_call("made.up", params={"a": 1})
    assert excinfo.value.response.status_code == 200
    assert api_error(excinfo) == "unknown_method"
    assert fake.last("made.up").params == {"a": "1"}


# ---------------------------------------------------------------- users / conversations


def test_users_info(fake: FakeSlack) -> None:
    fake.add_user("U1", name="ann", real_name="Ann Smith", tz="Europe/London", is_admin=True)
    user = client_for(fake).users_info(user="U1")["user"]
    expected_offset = datetime.now(ZoneInfo("Europe/London")).utcoffset()
    assert expected_offset is not None
    assert user["tz_offset"] == int(expected_offset.total_seconds())
    assert user["tz"] == "Europe/London" and user["tz_label"] in (
        "Greenwich Mean Time",
        "British Summer Time",
    )
    assert user["is_admin"] is True and user["is_owner"] is False and user["deleted"] is False
    assert user["profile"] == {
        "real_name": "Ann Smith",
        "real_name_normalized": "Ann Smith",
        "display_name": "ann",
        "display_name_normalized": "ann",
        "team": "T0001",
    }
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake).users_info(user="U404")
    assert api_error(excinfo) == "user_not_found"


def test_conversations(fake: FakeSlack) -> None:
    client = client_for(fake)
    fake.add_channel("C1", name="public", members=["U1", "U2"])
    fake.add_channel("C2", name="secret", is_private=True)
    fake.add_channel("C3", name="old", is_archived=True)

    info = client.conversations_info(channel="C1")["channel"]
    assert (info["id"], info["name"], info["is_channel"], info["is_private"]) == ("C1", "public", True, False)
    assert info["is_member"] is False and info["is_archived"] is False
    assert client.conversations_members(channel="C1")["members"] == ["U1", "U2"]

    joined = client.conversations_join(channel="C1")
    assert joined["channel"]["is_member"] is True and fake.channels["C1"].is_member
    for channel, error in [("C2", "method_not_supported_for_channel_type"), ("C3", "is_archived")]:
        with pytest.raises(SlackApiError) as excinfo:
            client.conversations_join(channel=channel)
        assert api_error(excinfo) == error
    for call in (client.conversations_info, client.conversations_members, client.conversations_join):
        with pytest.raises(SlackApiError) as excinfo:
            call(channel="C404")
        assert api_error(excinfo) == "channel_not_found"

    public = client.conversations_list()["channels"]
    assert [c["id"] for c in public] == ["C1", "C3"]
    both = client.conversations_list(types="public_channel,private_channel", exclude_archived=True)
    assert [c["id"] for c in both["channels"]] == ["C1", "C2"]
    assert both["response_metadata"]["next_cursor"] == ""

    assert client.conversations_open(users="U1")["channel"]["id"] == "DU1"
    assert client.conversations_open(users=["U1"])["channel"]["id"] == "DU1"


def test_posting_rules(fake: FakeSlack) -> None:
    client = client_for(fake)
    fake.add_channel("C1", name="in", is_member=True)
    fake.add_channel("C2", name="out")
    fake.add_channel("C3", name="archived", is_member=True, is_archived=True)

    assert client.chat_postMessage(channel="C1", text="ok")["ok"]
    assert client.chat_postMessage(channel="DU1", text="dm")["channel"] == "DU1"
    assert client.chat_postMessage(channel="U1", text="dm")["channel"] == "DU1"
    for channel, error in [("C2", "not_in_channel"), ("C3", "is_archived"), ("C404", "channel_not_found")]:
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel=channel, text="x")
        assert api_error(excinfo) == error
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postEphemeral(channel="C2", user="U1", text="x")
    assert api_error(excinfo) == "not_in_channel"

    eph = client.chat_postEphemeral(channel="C1", user="U1", text="psst")
    assert eph["message_ts"]
    posted = client.chat_postMessage(channel="C1", text="v1")
    updated = client.chat_update(channel="C1", ts=posted["ts"], text="v2")
    assert updated["message"]["text"] == "v2" and fake.messages[("C1", posted["ts"])]["text"] == "v2"
    link = client.chat_getPermalink(channel="C1", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C1/p" + posted["ts"].replace(".", ""))
    assert client.chat_delete(channel="C1", ts=posted["ts"])["ok"]
    assert ("C1", posted["ts"]) not in fake.messages

    fake.auto_channels = True
    assert client.chat_postMessage(channel="C777", text="bench")["channel"] == "C777"
    assert fake.channels["C777"].is_member


def test_views(fake: FakeSlack) -> None:
    client = client_for(fake)
    modal = {"type": "modal", "callback_id": "cb", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    opened = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "cb" and opened["hash"]
    assert fake.last("views.open").params["view"] == modal

    pushed = client.views_push(trigger_id="123.456.abc", view=modal)["view"]
    assert pushed["id"] != opened["id"]

    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as excinfo:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)  # stale hash now
    assert api_error(excinfo) == "hash_conflict"

    home = {"type": "home", "blocks": []}
    assert client.views_publish(user_id="U_ANY", view=home)["view"]["type"] == "home"
    assert fake.home_tabs["U_ANY"]["type"] == "home"
    fake.strict_users = True
    with pytest.raises(SlackApiError) as excinfo:
        client.views_publish(user_id="U_NOBODY", view=home)
    assert api_error(excinfo) == "user_not_found"


# ---------------------------------------------------------------- files v2


def test_files_upload_v2_end_to_end(fake: FakeSlack) -> None:
    fake.add_channel("C1", name="general", is_member=True)
    content = b"\x89PNG\r\n\x1a\nnot-really-a-png"

    resp = client_for(fake).files_upload_v2(
        channel="C1", content=content, filename="a.png", title="t", alt_txt="alt", initial_comment="look"
    )

    assert resp["file"]["title"] == "t"
    file_id = resp["file"]["id"]
    assert fake.uploads[file_id] == content
    assert [c.method for c in fake.calls()] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    get_url = fake.last("files.getUploadURLExternal").params
    assert get_url == {"filename": "a.png", "length": str(len(content)), "alt_txt": "alt"}
    assert fake.last("upload").params == {"file_id": file_id, "size": len(content)}
    complete = fake.last("files.completeUploadExternal").params
    assert complete["files"] == [{"id": file_id, "title": "t"}] and complete["channel_id"] == "C1"
    stored = fake.files[file_id]
    assert stored["alt_txt"] == "alt" and stored["channels"] == ["C1"] and stored["initial_comment"] == "look"


def test_files_upload_v2_respects_posting_rules(fake: FakeSlack) -> None:
    fake.add_channel("C2", name="out")
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake).files_upload_v2(channel="C2", content=b"x", filename="a.txt")
    assert api_error(excinfo) == "not_in_channel"


# ---------------------------------------------------------------- faults and latency


def test_rate_limit_is_retried_after_retry_after(fake: FakeSlack) -> None:
    fake.add_channel("C1", name="general", is_member=True)
    fake.fail("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    resp = client_for(fake, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]).chat_postMessage(
        channel="C1", text="hi"
    )

    assert resp["ok"]
    assert time.monotonic() - started >= 1.0
    assert len(fake.calls("chat.postMessage")) == 2


def test_rate_limit_without_retry_handler_surfaces(fake: FakeSlack) -> None:
    fake.fail("auth.test", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake, retry_handlers=[]).auth_test()
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "7"
    assert api_error(excinfo) == "ratelimited"


def test_server_error_is_retried(fake: FakeSlack) -> None:
    fake.fail("auth.test", status=500)
    resp = client_for(fake, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)]).auth_test()
    assert resp["ok"] and len(fake.calls("auth.test")) == 2

    fake.fail("auth.test", status=503, times=2)
    with pytest.raises(SlackApiError) as excinfo:
        client_for(fake, retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)]).auth_test()
    assert excinfo.value.response.status_code == 503


def test_ok_false_failures_and_forever(fake: FakeSlack) -> None:
    client = client_for(fake)
    fake.fail("auth.test", error="fatal_error", times=None)
    for _ in range(3):
        with pytest.raises(SlackApiError) as excinfo:
            client.auth_test()
        assert api_error(excinfo) == "fatal_error"
    fake.clear_failures()
    assert client.auth_test()["ok"]

    fake.fail("*", error="team_access_not_granted")
    with pytest.raises(SlackApiError):
        client.users_info(user=BOT_USER_ID)
    assert client.users_info(user=BOT_USER_ID)["ok"]  # consumed


def test_latency(fake: FakeSlack) -> None:
    client = client_for(fake)
    fake.latency = 0.1
    fake.method_latency["users.info"] = 0.3

    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.1
    started = time.monotonic()
    client.users_info(user=BOT_USER_ID)
    assert time.monotonic() - started >= 0.3


# ---------------------------------------------------------------- response_url


def test_response_url_records_posts(fake: FakeSlack) -> None:
    url = fake.response_url("r2")
    assert url.startswith(fake.url) and url.endswith("/response/r2")

    resp = WebhookClient(url).send(text="done", replace_original=True)

    assert resp.status_code == 200 and json.loads(resp.body) == {"ok": True}
    call = fake.wait_for("response_url")[0]
    assert call.params == {"text": "done", "replace_original": True} and call.path == "/response/r2"
    assert fake.responses("r2") == [call.params] and fake.responses("r1") == []


# ---------------------------------------------------------------- SlackRequests signing


def test_sign_matches_slack_sdk() -> None:
    body = "token=x&text=hello%20world"
    ts = int(time.time())
    assert sign(body, SECRET, ts) == SignatureVerifier(SECRET).generate_signature(
        timestamp=str(ts), body=body
    )
    assert sign(body.encode(), SECRET, ts) == sign(body, SECRET, ts)


def test_built_requests_verify() -> None:
    reqs = SlackRequests("http://127.0.0.1:1", SECRET, default_response_url="http://127.0.0.1:1/response/r1")
    verifier = SignatureVerifier(SECRET)
    built_event, event_id = reqs.build_event({"type": "app_mention", "text": "hi"}, retry_num=1)
    for built in [
        reqs.build_command("hello"),
        reqs.build_block_action("approve", value="42"),
        reqs.build_view_submission("cb", values={"b": {"a": {"type": "plain_text_input", "value": "v"}}}),
        reqs.build_view_closed("cb"),
        reqs.build_shortcut("sc"),
        reqs.build_message_shortcut("ms", message={"type": "message", "ts": "1.2", "text": "x"}),
        reqs.build_url_verification("chal"),
        built_event,
    ]:
        assert verifier.is_valid_request(built.body, built.headers), built.text

    envelope = json.loads(built_event.body)
    assert envelope["event_id"] == event_id and envelope["type"] == "event_callback"
    assert built_event.headers["X-Slack-Retry-Num"] == "1"

    command = parse_qs(reqs.build_command("hello").text)
    assert command["text"] == ["hello"] and command["response_url"] == ["http://127.0.0.1:1/response/r1"]

    stale = reqs.build_command("x", timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(stale.body, stale.headers)
    forged = reqs.build_command("x", signature="v0=deadbeef")
    assert not verifier.is_valid_request(forged.body, forged.headers)
    unsigned = reqs.build_command("x", sign=False)
    assert "X-Slack-Signature" not in unsigned.headers and "X-Slack-Request-Timestamp" not in unsigned.headers


# ---------------------------------------------------------------- both pieces against a real Bolt app


class _BoltServer:
    """Serves a Bolt App over HTTP on an ephemeral port, like the app's own server would."""

    def __init__(self, app: App) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                resp = app.dispatch(BoltRequest(body=body, headers=dict(self.headers)))
                payload = resp.body.encode("utf-8")
                self.send_response(resp.status)
                for name, values in resp.headers.items():
                    for value in values:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_signed_requests_drive_a_real_bolt_app(fake: FakeSlack) -> None:
    fake.add_channel("C_SHARED", name="shared", is_member=True)
    app = App(signing_secret=SECRET, client=client_for(fake))

    @app.command("/tandem")
    def on_command(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        ack()
        respond(f"got {command['text']}")

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(f"hi <@{event['user']}>")

    @app.action("approve")
    def on_approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        respond(f"approved {body['actions'][0]['value']}")

    @app.view("cb")
    def on_submit(ack: Any, view: dict[str, Any]) -> None:
        ack(response_action="errors", errors={"b": view["state"]["values"]["b"]["a"]["value"]})

    server = _BoltServer(app)
    reqs = SlackRequests(server.url, SECRET, default_response_url=fake.response_url())
    try:
        assert reqs.command("hello").status_code == 200
        assert fake.wait_for("response_url")[0].params["text"] == "got hello"

        delivery = reqs.event(
            {"type": "app_mention", "user": "U_MKT1", "text": "<@U0BOT>", "channel": "C_SHARED"}
        )
        assert delivery.response.status_code == 200 and delivery.event_id.startswith("Ev")
        posted = fake.wait_for("chat.postMessage")[0]
        assert posted.params["channel"] == "C_SHARED" and posted.params["text"] == "hi <@U_MKT1>"

        assert reqs.block_action("approve", value="42").status_code == 200
        fake.wait_for("response_url", lambda c: c.params.get("text") == "approved 42")

        submitted = reqs.view_submission(
            "cb", values={"b": {"a": {"type": "plain_text_input", "value": "bad"}}}
        )
        assert submitted.json() == {"response_action": "errors", "errors": {"b": "bad"}}

        assert reqs.url_verification("c-123").json() == {"challenge": "c-123"}
        assert reqs.command("x", timestamp=int(time.time()) - 600).status_code == 401
        assert reqs.command("x", signature="v0=forged").status_code == 401
        assert reqs.command("x", sign=False).status_code == 401
    finally:
        server.stop()
        reqs.close()
