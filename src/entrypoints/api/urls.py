"""Public URLs handed to editors: the buyer's and the candidate's entry points."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, request

BUYER_PURPOSE = "buyer"
CANDIDATE_PURPOSE = "candidate"


def public_base_url() -> str:
    configured = current_app.extensions["passemarche"].config.public_base_url
    return configured or request.host_url.rstrip("/")


def configuration_url(market_identifier: str) -> str:
    signer = current_app.extensions["passemarche"].signer
    token = signer.sign(BUYER_PURPOSE, market_identifier)
    return (
        f"{public_base_url()}/buyer/public_markets/{market_identifier}/setup?"
        f"{urlencode({'token': token})}"
    )


def application_url(application_identifier: str) -> str:
    signer = current_app.extensions["passemarche"].signer
    token = signer.sign(CANDIDATE_PURPOSE, application_identifier)
    return (
        f"{public_base_url()}/candidate/market_applications/{application_identifier}"
        f"/company_identification?{urlencode({'token': token})}"
    )
