"""The command-line tool's exit statuses (0 success, 1 refused by the API, 2 usage or local
file, 3 network or an answer that is not the API's) with a one-line message and never a
traceback; the library's silence when the application configured no logging; the sandbox
editor's settings never printing a secret."""

from __future__ import annotations

import subprocess
import sys

import pytest
from passemarche_client.cli import main
from passemarche_client.sandbox_editor import EditorSettings

from tests.clients.scripted_api import Answer, scripted_api


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(autouse=True)
def no_settings_from_the_shell(monkeypatch):
    for name in ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "WEBHOOK_SECRET"):
        monkeypatch.delenv(f"PASSEMARCHE_{name}", raising=False)


@pytest.mark.parametrize("base_url", ["127.0.0.1:5000", "ftp://127.0.0.1/", "http://"])
def test_a_base_url_without_http_scheme_is_a_usage_error(capsys, base_url):
    code, out, err = run(
        capsys, "--base-url", base_url, "--client-id", "i", "--client-secret", "s", "token"
    )
    assert code == 2
    assert "base URL" in one_line(err)
    assert out == ""


def test_a_missing_webhook_body_file_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(
        capsys, "verify-webhook", "--secret", "s", "--body", str(tmp_path / "nonexistent")
    )
    assert code == 2
    assert "nonexistent" in one_line(err)


def test_a_success_body_that_is_not_json_exits_3_without_traceback(capsys):
    with scripted_api() as api:
        api.add("POST", "/api/v1/public_markets", Answer(201, b"<html>proxy</html>"))
        code, out, err = run(
            capsys,
            "--base-url", api.url, "--client-id", "i", "--client-secret", "s",
            "create-market", "--name", "M", "--deadline", "2030-12-31T23:59:59Z",
            "--siret", "13002526500013", "--type", "supplies",
        )  # fmt: skip
    assert code == 3
    assert "not JSON" in one_line(err)
    assert out == ""


def test_a_redirect_exits_3_and_names_it(capsys):
    with scripted_api() as api:
        api.add("GET", "/api/v1/public_markets/VR-1", Answer(301, b"", {"Location": "https://x/"}))
        code, _, err = run(
            capsys, "--base-url", api.url, "--client-id", "i", "--client-secret", "s",
            "get-market", "VR-1",
        )  # fmt: skip
    assert code == 3
    assert "redirect" in one_line(err)


def test_a_download_into_an_unwritable_place_exits_2(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with scripted_api() as api:
        path = "/api/v1/market_applications/APP-1/attestation"
        api.add("GET", path, Answer(200, b"%PDF-1.7"))
        code, _, err = run(
            capsys, "--base-url", api.url, "--client-id", "i", "--client-secret", "s",
            "download-attestation", "APP-1", "-o", str(blocker / "sub") + "/",
        )  # fmt: skip
    assert code == 2
    one_line(err)


def test_the_library_prints_nothing_when_logging_is_not_configured():
    script = (
        "from passemarche_client.logging import log_call\n"
        "log_call('GET', '/api/v1/public_markets/X', 503, 1, 0.1, retry_in=1.0)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""


def test_the_library_logs_still_reach_a_configured_application(caplog):
    from passemarche_client.logging import log_call

    with caplog.at_level("INFO", logger="passemarche_client"):
        log_call("GET", "/x", 200, 1, 0.01)
    assert "api_call" in caplog.text


def test_editor_settings_never_show_their_secrets():
    settings = EditorSettings(
        webhook_secret="whsec-visible?", base_url="http://x", client_id="c", client_secret="cs-s3"
    )
    text = repr(settings) + str(settings)
    assert "whsec-visible?" not in text and "cs-s3" not in text
    assert "http://x" in text
