"""Locating remote dataset files: explicit path, mirror folder, cache, checksummed download (never real)."""
from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request

import pytest

from trainer.data.config import SourceConfig
from trainer.data.sources import REGISTRY, locate, sha256_file
from trainer.errors import DataError

NAME = "sample.bin"
PAYLOAD = b"reuters-like payload\n" * 100
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
URL = "https://example.invalid/sample.bin"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's mirror or cache, and none may reach the network."""
    monkeypatch.delenv("TRAINER_DATA_MIRROR", raising=False)
    monkeypatch.setenv("TRAINER_CACHE", str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("test tried to download")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def _src(**kw) -> SourceConfig:
    return SourceConfig(kind="reuters", **kw)


def _write(path, data=PAYLOAD):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_sources_sha256_file_matches_hashlib(tmp_path):
    path = _write(tmp_path / NAME, PAYLOAD * 3000)  # several read chunks
    assert sha256_file(path) == hashlib.sha256(PAYLOAD * 3000).hexdigest()


def test_sources_explicit_file_is_used_without_checksum(tmp_path):
    path = _write(tmp_path / "any-name.tar.gz", b"not the real archive")
    assert locate(NAME, _src(path=str(path)), URL, PAYLOAD_SHA) == path


def test_sources_explicit_folder_holding_the_file(tmp_path):
    path = _write(tmp_path / "data" / NAME)
    assert locate(NAME, _src(path=str(tmp_path / "data")), URL, PAYLOAD_SHA) == path


def test_sources_explicit_folder_of_extracted_members(tmp_path):
    _write(tmp_path / "unpacked" / "reut2-000.sgm", b"<REUTERS>")
    found = locate("reuters21578.tar.gz", _src(path=str(tmp_path / "unpacked")))
    assert found == tmp_path / "unpacked"


def test_sources_explicit_folder_without_the_file_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="reuters21578.tar.gz"):
        locate("reuters21578.tar.gz", _src(path=str(tmp_path / "empty")))


def test_sources_explicit_missing_path_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        locate(NAME, _src(path=str(tmp_path / "nope")), URL, PAYLOAD_SHA)


def test_sources_mirror_env_is_used(tmp_path, monkeypatch):
    path = _write(tmp_path / "mirror" / NAME)
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(tmp_path / "mirror"))
    assert locate(NAME, _src(), URL, PAYLOAD_SHA) == path


def test_sources_mirror_env_name_is_configurable(tmp_path, monkeypatch):
    path = _write(tmp_path / "mine" / NAME)
    monkeypatch.setenv("MY_MIRROR", str(tmp_path / "mine"))
    assert locate(NAME, _src(mirror_env="MY_MIRROR"), URL, PAYLOAD_SHA) == path


def test_sources_mirror_accepts_any_listed_checksum(tmp_path, monkeypatch):
    path = _write(tmp_path / "mirror" / NAME)
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(tmp_path / "mirror"))
    assert locate(NAME, _src(), URL, ["0" * 64, PAYLOAD_SHA]) == path


def test_sources_mirror_checksum_mismatch_names_the_bypass(tmp_path, monkeypatch):
    _write(tmp_path / "mirror" / NAME, b"tampered")
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(DataError, match=r"sha256.*source\.path="):
        locate(NAME, _src(), URL, PAYLOAD_SHA)


def test_sources_mirror_env_not_a_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="TRAINER_DATA_MIRROR"):
        locate(NAME, _src(), URL, PAYLOAD_SHA)


def test_sources_download_disabled_gives_the_mirror_hint(tmp_path):
    with pytest.raises(DataError, match=r"TRAINER_DATA_MIRROR=/dir/with/sample\.bin or source\.path"):
        locate(NAME, _src(download=False), URL, PAYLOAD_SHA)


def test_sources_offline_download_fails_fast_with_mirror_hint(monkeypatch):
    timeouts = []

    def offline(url, timeout=None):
        timeouts.append(timeout)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match=r"set TRAINER_DATA_MIRROR=/dir/with/reuters21578\.tar\.gz or source\.path"):
        locate("reuters21578.tar.gz", _src())
    assert timeouts and 0 < timeouts[0] <= 10


def test_sources_download_is_verified_and_cached(tmp_path, monkeypatch):
    calls = []

    def fake(url, timeout=None):
        calls.append(url)
        return io.BytesIO(PAYLOAD)
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    first = locate(NAME, _src(), URL, PAYLOAD_SHA)
    second = locate(NAME, _src(), URL, PAYLOAD_SHA)
    assert first == second == tmp_path / "cache" / NAME
    assert first.read_bytes() == PAYLOAD
    assert calls == [URL]   # the second call found the verified cache copy


def test_sources_download_checksum_mismatch_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"corrupt"))
    with pytest.raises(DataError, match="sha256"):
        locate(NAME, _src(), URL, PAYLOAD_SHA)
    assert list((tmp_path / "cache").iterdir()) == []   # neither the file nor its temp copy


def test_sources_registry_knows_the_mirror_copy_of_reuters():
    entry = REGISTRY["reuters21578.tar.gz"]
    assert entry.url.startswith("https://kdd.ics.uci.edu/")
    assert "dd7bd6b3f9e727b77e990d009b5de8080addc0d59c00a0d8c68c72c07fc490ce" in entry.sha256


def test_sources_real_mirror_archive_passes_the_checksum(reuters_archive, monkeypatch):
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(reuters_archive.parent))
    assert locate("reuters21578.tar.gz", _src()) == reuters_archive
