from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from passemarche.domain.identifiers import (
    APPLICATION_IDENTIFIER,
    MARKET_IDENTIFIER,
    new_application_identifier,
    new_client_id,
    new_market_identifier,
    new_secret,
)

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)


@given(moments)
def test_market_identifiers_follow_the_reference_format(moment):
    identifier = new_market_identifier(moment)
    assert MARKET_IDENTIFIER.match(identifier)
    assert identifier.startswith(f"VR-{moment:%Y}-")


@given(moments)
def test_application_identifiers_follow_the_reference_format(moment):
    identifier = new_application_identifier(moment)
    assert APPLICATION_IDENTIFIER.match(identifier)
    assert identifier.startswith(f"FT{moment:%Y%m%d}")


@settings(max_examples=5)
@given(moments)
def test_identifiers_do_not_repeat(moment):
    assert len({new_market_identifier(moment) for _ in range(2000)}) == 2000
    assert len({new_application_identifier(moment) for _ in range(2000)}) == 2000


def test_secrets_carry_at_least_256_bits():
    secret = new_secret()
    assert len(secret) >= 43  # 32 bytes in URL-safe base64
    assert new_secret() != secret
    assert new_client_id() != new_client_id()
