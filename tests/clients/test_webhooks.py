"""The webhook verification helper, on signatures made here (the end-to-end test checks it on
the service's own webhooks)."""

from __future__ import annotations

import json

import pytest
from passemarche_client.webhooks import (
    LEGACY_HEADER,
    ReplayedWebhook,
    ReplayGuard,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

SECRET = "whsec-test-secret"
NOW = 1_800_000_000
BODY = json.dumps(
    {"event": "market.completed", "market": {"identifier": "VR-2030-ABCDEFGHIJKL"}}
).encode()


def signed(body: bytes = BODY, webhook_id: str = "msg_1", timestamp: int = NOW) -> dict[str, str]:
    return sign_webhook(SECRET, body, webhook_id, timestamp)


def test_a_genuine_webhook_is_verified_with_both_signatures():
    event = verify_webhook(SECRET, signed(), BODY, now=NOW)
    assert (event.event, event.webhook_id, event.timestamp) == ("market.completed", "msg_1", NOW)
    assert event.payload["market"]["identifier"] == "VR-2030-ABCDEFGHIJKL"


def test_header_names_are_case_insensitive():
    headers = {name.upper(): value for name, value in signed().items()}
    assert verify_webhook(SECRET, headers, BODY, now=NOW).webhook_id == "msg_1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"ABCDEFGHIJKL", b"ABCDEFGHIJKM")),  # the body
        lambda h, b: ({**h, "webhook-id": "msg_2"}, b),  # the id the signature covers
        lambda h, b: ({**h, "webhook-timestamp": str(NOW - 1)}, b),  # the signed timestamp
        lambda h, b: ({**h, LEGACY_HEADER: "sha256=" + "0" * 64}, b),  # the legacy signature
        lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b),  # the modern signature
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
    ],
)
def test_a_tampered_webhook_is_rejected(tamper):
    headers, body = tamper(signed(), BODY)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers, body, now=NOW)


def test_the_wrong_secret_is_rejected():
    with pytest.raises(WebhookVerificationError):
        verify_webhook("another-secret", signed(), BODY, now=NOW)


@pytest.mark.parametrize("offset", [301, -301])
def test_a_timestamp_outside_the_replay_window_is_rejected(offset):
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify_webhook(SECRET, signed(), BODY, now=NOW + offset)
    assert verify_webhook(SECRET, signed(), BODY, now=NOW + offset, tolerance=400)


def test_an_id_marked_processed_is_rejected_by_the_guard():
    guard = ReplayGuard()
    event = verify_webhook(SECRET, signed(), BODY, now=NOW, replay_guard=guard)
    guard.mark_processed(event.webhook_id, now=NOW)
    with pytest.raises(ReplayedWebhook):
        verify_webhook(SECRET, signed(), BODY, now=NOW + 10, replay_guard=guard)
    # Another delivery (another id) of the same kind of event is fine.
    verify_webhook(SECRET, signed(webhook_id="msg_2"), BODY, now=NOW, replay_guard=guard)


def test_verifying_does_not_mark_an_id_so_a_failed_processing_is_retried():
    guard = ReplayGuard()
    verify_webhook(SECRET, signed(), BODY, now=NOW, replay_guard=guard)
    # The integrator's processing failed (no mark_processed): the service's retry is processed.
    event = verify_webhook(
        SECRET, signed(timestamp=NOW + 30), BODY, now=NOW + 30, replay_guard=guard
    )
    assert event.webhook_id == "msg_1"
    assert not guard.was_processed("msg_1", now=NOW + 30)


def test_the_default_retention_outlives_the_service_retry_schedule():
    from passemarche.domain.webhook import DEFAULT_RETRY_DELAYS, RetrySchedule

    latest_retry = sum(DEFAULT_RETRY_DELAYS) * (1 + RetrySchedule().jitter)  # ≈ 26 h
    guard = ReplayGuard()
    assert guard.retention > latest_retry
    guard.mark_processed("msg_1", now=NOW)
    with pytest.raises(ReplayedWebhook):
        verify_webhook(
            SECRET,
            signed(timestamp=NOW + int(latest_retry)),
            BODY,
            now=NOW + latest_retry,
            replay_guard=guard,
        )


def test_the_guard_forgets_ids_older_than_its_retention():
    guard = ReplayGuard(retention=600)
    guard.mark_processed("msg_1", now=NOW)
    assert guard.was_processed("msg_1", now=NOW + 599)
    assert not guard.was_processed("msg_1", now=NOW + 601)
    with pytest.raises(ValueError):
        ReplayGuard(retention=0)


def test_one_of_several_signatures_may_match_during_a_secret_rotation():
    headers = signed()
    headers["webhook-signature"] = "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]
    assert verify_webhook(SECRET, headers, BODY, now=NOW)


def test_the_legacy_signature_alone_needs_an_explicit_opt_in():
    headers = {LEGACY_HEADER: signed()[LEGACY_HEADER]}
    with pytest.raises(WebhookVerificationError, match="replay window"):
        verify_webhook(SECRET, headers, BODY, now=NOW)
    assert verify_webhook(SECRET, headers, BODY, allow_legacy_only=True).event == (
        "market.completed"
    )


def test_no_signature_no_secret_and_non_json_bodies_are_rejected():
    with pytest.raises(WebhookVerificationError, match="no signature"):
        verify_webhook(SECRET, {}, BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="no webhook secret"):
        verify_webhook("", signed(), BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="not JSON"):
        verify_webhook(SECRET, signed(b"not json"), b"not json", now=NOW)
