"""Where the lake lives: a local folder or ``s3://bucket/prefix``, behind one pyarrow filesystem.

Everything that reads or writes the lake goes through ``LakeLocation`` so that local runs, tests
against an S3-compatible server and real S3 share one code path. S3 uses the standard AWS
credentials chain; ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) points it at an S3-compatible
store such as moto or MinIO.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

DEFAULT_LAKE = "./.aigw/lake"


def default_lake_url(env: Mapping[str, str] | None = None) -> str:
    """``$AIGW_LAKE`` or ``./.aigw/lake``."""
    env = os.environ if env is None else env
    return env.get("AIGW_LAKE") or DEFAULT_LAKE


def s3_filesystem(env: Mapping[str, str] | None = None) -> pafs.S3FileSystem:
    """An S3 filesystem configured from the standard AWS environment.

    Credentials are left to the AWS SDK's default chain (env, profile, instance role) unless both
    key variables are set. Timeouts are short and the SDK retries little: the lake writer owns
    retrying with backoff, so a dead endpoint must fail fast rather than hang a flush.
    """
    env = os.environ if env is None else env
    options: dict[str, object] = {
        "connect_timeout": float(env.get("AIGW_S3_CONNECT_TIMEOUT", "2")),
        "request_timeout": float(env.get("AIGW_S3_REQUEST_TIMEOUT", "30")),
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=2),
        "check_directory_existence_before_creation": False,
        # A whole object written in one call goes up as one PutObject at close instead of a
        # three-request multipart upload; errors surface at close, where write_bytes reports them.
        "allow_delayed_open": True,
    }
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options["access_key"] = key
        options["secret_key"] = secret
        if env.get("AWS_SESSION_TOKEN"):
            options["session_token"] = env["AWS_SESSION_TOKEN"]
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"AWS_ENDPOINT_URL: expected http(s)://host[:port], got {endpoint!r}")
        options["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        options["scheme"] = parts.scheme
        options["force_virtual_addressing"] = False
    return pafs.S3FileSystem(**options)


@dataclass(frozen=True, slots=True)
class LakeObjectInfo:
    """One file in the lake, named by its path relative to the lake root (what ``read_bytes`` takes)."""

    path: str
    size: int
    mtime_ns: int

    @property
    def base_name(self) -> str:
        return self.path.rpartition("/")[2]


@dataclass(frozen=True)
class LakeLocation:
    """The lake's root on a pyarrow filesystem; all other paths are relative to it (``/``-separated)."""

    url: str
    filesystem: pafs.FileSystem
    root: str

    @classmethod
    def parse(cls, url_or_path: str, env: Mapping[str, str] | None = None, *,
              create: bool = True) -> LakeLocation:
        """A local folder (created if missing, unless ``create`` is false: readers never create the
        lake, so a mistyped path stays visibly missing) or ``s3://bucket[/prefix]``."""
        text = url_or_path.strip()
        if not text:
            raise ValueError("lake location is empty: give a folder or s3://bucket/prefix")
        if text.startswith("s3://"):
            bucket_and_prefix = text[len("s3://") :].strip("/")
            bucket = bucket_and_prefix.split("/", 1)[0]
            if len(bucket) < 3:
                raise ValueError(f"lake location {text!r}: the S3 bucket name needs at least 3 characters")
            return cls(url=f"s3://{bucket_and_prefix}", filesystem=s3_filesystem(env), root=bucket_and_prefix)
        if "://" in text:
            raise ValueError(f"lake location {text!r}: only local folders and s3:// URLs are supported")
        folder = Path(text).expanduser().resolve()
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return cls(url=str(folder), filesystem=pafs.LocalFileSystem(), root=folder.as_posix())

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        """The full path of ``parts`` on ``filesystem`` (what pyarrow, DuckDB and Polars are given)."""
        relative = "/".join(p.strip("/") for p in parts if p.strip("/"))
        return f"{self.root}/{relative}" if relative else self.root

    def write_bytes(self, relative_path: str, data: bytes | memoryview) -> None:
        """Write one whole object: readers see the old state or the complete new one, never a part.

        Locally: a hidden temp file in the same folder, fsynced, then renamed over the target.
        On S3: one PutObject of the whole buffer; the object only appears when it completes.
        """
        target = self.path(relative_path)
        if self.is_local:
            _write_local_atomically(Path(target), data)
            return
        # compression=None: bytes go as given (pyarrow would otherwise gzip a ``.gz`` name again).
        with self.filesystem.open_output_stream(target, compression=None) as stream:
            stream.write(data)

    def read_bytes(self, relative_path: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(relative_path), compression=None) as stream:
            return bytes(stream.read())

    def exists(self, relative_path: str) -> bool:
        info = self.filesystem.get_file_info(self.path(relative_path))
        return bool(info.type != pafs.FileType.NotFound)

    def root_exists(self) -> bool:
        """Whether the lake's root is there (for S3: whether any object lies under the prefix)."""
        info = self.filesystem.get_file_info(self.root)
        return bool(info.type != pafs.FileType.NotFound)

    def list_files(self, relative_prefix: str = "") -> list[pafs.FileInfo]:
        """Every file under ``relative_prefix`` (recursively), sorted by path; hidden temp files excluded."""
        selector = pafs.FileSelector(self.path(relative_prefix), recursive=True, allow_not_found=True)
        infos = self.filesystem.get_file_info(selector)
        files = [
            info for info in infos if info.type == pafs.FileType.File and not info.base_name.startswith(".")
        ]
        return sorted(files, key=lambda info: info.path)

    def list_objects(self, relative_prefix: str = "") -> list[LakeObjectInfo]:
        """Every file under ``relative_prefix`` like ``list_files``, with paths relative to the lake root."""
        root = self.path("") + "/"
        return [
            LakeObjectInfo(info.path.removeprefix(root), int(info.size or 0), int(info.mtime_ns or 0))
            for info in self.list_files(relative_prefix)
        ]

    def delete(self, relative_path: str) -> None:
        self.filesystem.delete_file(self.path(relative_path))


def _write_local_atomically(target: Path, data: bytes | memoryview) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
