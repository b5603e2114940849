"""The file-storage contract, bound to the local folder and to S3 (moto's server on 127.0.0.1).

Moto runs in a child process of its own: in this one, its copy of every upload would count in
the memory the streaming test measures. Nothing leaves the machine.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from passemarche.adapters.file_storage import LocalFileStorage, UnsafeStorageKey

from tests.conftest import service_unavailable
from tests.contract.file_storage_contract import FileStorageContract

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from passemarche.adapters.s3_storage import S3FileStorage  # noqa: E402

REGION = "eu-west-3"


def _serve_moto(port: int, stop) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stop.wait()
    server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    port = _free_port()
    process = context.Process(target=_serve_moto, args=(port, stop), daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError as error:
            if time.monotonic() > deadline or not process.is_alive():
                process.kill()
                service_unavailable(f"moto server on 127.0.0.1:{port}", error)
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy keys for moto; no real profile or credentials file is ever read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture
def s3_bucket(moto_endpoint: str, s3_credentials: None) -> str:
    bucket = f"pm-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return bucket


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "local":
        return LocalFileStorage(tmp_path_factory.mktemp("storage"))
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("moto_endpoint")
    return S3FileStorage(bucket, endpoint_url=endpoint, region=REGION, prefix="passemarche")


class TestFileStorage(FileStorageContract):
    pass


class TestS3Specifics:
    @pytest.fixture
    def endpoint(self, moto_endpoint: str, s3_credentials: None) -> str:
        return moto_endpoint

    def test_keys_live_under_the_prefix(self, endpoint, s3_bucket):
        storage = S3FileStorage(s3_bucket, endpoint_url=endpoint, region=REGION, prefix="/env/")
        storage.put("a/b.txt", iter([b"hello"]))
        listed = storage.client.list_objects_v2(Bucket=s3_bucket)["Contents"]
        assert [item["Key"] for item in listed] == ["env/a/b.txt"]
        assert storage.stat("a/b.txt").size == 5
        unprefixed = S3FileStorage(s3_bucket, endpoint_url=endpoint, region=REGION)
        assert unprefixed.stat("a/b.txt") is None
        assert unprefixed.stat("env/a/b.txt").size == 5

    @pytest.mark.parametrize("key", ["a/", "a//b", "a/./b"])
    def test_empty_and_dot_parts_are_refused(self, endpoint, s3_bucket, key):
        storage = S3FileStorage(s3_bucket, endpoint_url=endpoint, region=REGION)
        with pytest.raises(UnsafeStorageKey):
            storage.put(key, iter([b"x"]))

    def test_a_large_upload_goes_up_in_parts(self, endpoint, s3_bucket):
        storage = S3FileStorage(s3_bucket, endpoint_url=endpoint, region=REGION)
        stored = storage.put("big", iter([b"z" * (1024 * 1024)] * 17))
        assert stored.size == 17 * 1024 * 1024
        assert stored.etag.endswith("-4")  # 5 + 5 + 5 + 2 MiB: a multipart ETag

    def test_an_injected_client_is_used(self, endpoint, s3_bucket):
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        storage = S3FileStorage(s3_bucket, client=client)
        assert storage.client is client
        assert storage.put("x", iter([b"1"])).size == 1
