"""The query API's gate: tokens, rate limits, audit subjects and hop signatures."""

from __future__ import annotations

import pytest

from streams.runtime.api_gate import Gate, TokenBucket, gate_key

CALLERS = {"support-token-0123456789": "support", "grafana-token-9876543210": "grafana"}


def gate(rate: float = 1.0, burst: int = 2) -> tuple[Gate, list[float]]:
    now = [100.0]
    return Gate(CALLERS, rate, burst, b"key", clock=lambda: now[0]), now


@pytest.mark.parametrize(
    ("header", "caller"),
    [
        ("Bearer support-token-0123456789", "support"),
        ("bearer grafana-token-9876543210", "grafana"),
        ("Bearer  support-token-0123456789 ", "support"),
        ("Bearer support-token-012345678", None),  # one character short
        ("Basic support-token-0123456789", None),
        ("support-token-0123456789", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_known_bearer_token_names_a_caller(header: str | None, caller: str | None) -> None:
    assert gate()[0].caller(header) == caller


def test_a_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take(10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(10.0) == pytest.approx(0.5)  # one token comes in half a second
    assert bucket.take(10.5) == 0.0
    assert bucket.take(10.5) == pytest.approx(0.5)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]  # refilled, not beyond


def test_each_caller_has_its_own_bucket() -> None:
    limited, now = gate(rate=1.0, burst=2)
    assert [limited.wait("support") for _ in range(3)] == [0.0, 0.0, 1.0]
    assert limited.wait("grafana") == 0.0
    now[0] += 1.0
    assert limited.wait("support") == 0.0


def test_subjects_are_stable_keyed_and_name_nobody() -> None:
    one, _ = gate()
    other = Gate(CALLERS, 1.0, 1, b"another key")
    assert one.subject("u-1") == one.subject("u-1")
    assert one.subject("u-1") != one.subject("u-2")
    assert one.subject("u-1") != other.subject("u-1")
    assert "u-1" not in one.subject("u-1")
    assert len(one.subject("u-1")) == 24


def test_a_hop_is_accepted_only_with_its_own_signature() -> None:
    one, _ = gate()
    signature = one.hop("support", "/users/u-1")
    assert one.forwarded("support", "/users/u-1", signature)
    assert not one.forwarded("grafana", "/users/u-1", signature)
    assert not one.forwarded("support", "/users/u-2", signature)
    assert not one.forwarded("support", "/users/u-1", None)
    assert not one.forwarded("support", "/users/u-1", "0" * len(signature))


def test_the_key_is_the_setting_or_the_same_on_every_worker_of_the_app() -> None:
    assert gate_key("app", "set-key", CALLERS) == b"set-key"
    assert gate_key("app", None, CALLERS) == gate_key("app", None, dict(reversed(CALLERS.items())))
    assert gate_key("app", None, CALLERS) != gate_key("other-app", None, CALLERS)
    assert gate_key("app", None, CALLERS) != gate_key("app", None, {"x" * 16: "support"})
