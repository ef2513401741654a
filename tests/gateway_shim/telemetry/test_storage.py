from __future__ import annotations

from pathlib import Path

import pytest

from gateway_shim.telemetry.storage import LakeLocation, default_lake_url, s3_filesystem
from tests.helpers import MotoS3Server


def test_default_lake_honours_aigw_lake() -> None:
    assert default_lake_url({}) == "./.aigw/lake"
    assert default_lake_url({"AIGW_LAKE": "s3://bucket/x"}) == "s3://bucket/x"


def test_local_lake_writes_whole_files_and_lists_them(tmp_path: Path) -> None:
    lake = LakeLocation.parse(str(tmp_path / "lake"))
    assert lake.is_local and (tmp_path / "lake").is_dir()
    lake.write_bytes("a/b/c.json", b"{}")
    lake.write_bytes("a/b/c.json", b'{"v": 2}')
    (tmp_path / "lake" / "a" / ".hidden.tmp").write_bytes(b"x")
    assert lake.read_bytes("a/b/c.json") == b'{"v": 2}'
    assert lake.exists("a/b/c.json") and not lake.exists("a/b/missing.json")
    assert [info.path for info in lake.list_files("a")] == [lake.path("a/b/c.json")]
    assert lake.list_files("nothing-here") == []
    assert sorted(p.name for p in (tmp_path / "lake" / "a" / "b").iterdir()) == ["c.json"]


@pytest.mark.parametrize(
    ("location", "problem"),
    [("", "empty"), ("gs://bucket/x", "only local folders"), ("s3://ab/x", "at least 3 characters")],
)
def test_bad_locations_are_named(location: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LakeLocation.parse(location)


def test_bad_endpoint_is_named() -> None:
    with pytest.raises(ValueError, match="AWS_ENDPOINT_URL"):
        s3_filesystem({"AWS_ENDPOINT_URL": "ftp://127.0.0.1:1"})


def test_s3_lake_round_trip(s3_server: MotoS3Server) -> None:
    url = s3_server.make_bucket("storage-test")
    lake = LakeLocation.parse(f"{url}/prefix/", env=s3_server.env)
    assert lake.url == "s3://storage-test/prefix" and lake.root == "storage-test/prefix"
    lake.write_bytes("policies/v1.json", b'{"a": 1}')
    assert lake.read_bytes("policies/v1.json") == b'{"a": 1}'
    assert lake.exists("policies/v1.json") and not lake.exists("policies/v2.json")
    assert [info.path for info in lake.list_files("policies")] == ["storage-test/prefix/policies/v1.json"]
    lake.delete("policies/v1.json")
    assert not lake.exists("policies/v1.json")


def test_s3_large_object_round_trips_whole(s3_server: MotoS3Server) -> None:
    lake = LakeLocation.parse(s3_server.make_bucket("storage-big"), env=s3_server.env)
    data = bytes(range(256)) * 45_000  # 11.5 MB: more than one multipart part
    lake.write_bytes("big.bin", data)
    assert lake.read_bytes("big.bin") == data


def test_s3_write_to_a_missing_bucket_fails_loudly(s3_server: MotoS3Server) -> None:
    lake = LakeLocation.parse("s3://no-such-bucket", env=s3_server.env)
    with pytest.raises(OSError, match="NO_SUCH_BUCKET"):
        lake.write_bytes("a.json", b"{}")
    assert not lake.exists("a.json")
