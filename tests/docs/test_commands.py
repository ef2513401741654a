"""Every command the README, the docs and ``aigw demo``'s hints print runs as printed.

The sandbox is what a reader has after cloning, ``make install`` and ``aigw demo``: the repository's files
(linked), ``.venv`` and a built lake and warehouse under ``./.aigw``. Commands run after
``source .venv/bin/activate``. S3 lakes (``s3://bucket/...``) live on a moto server inside the block's
network namespace, named by ``AWS_ENDPOINT_URL`` as a reader's S3-compatible store would be.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aigw.demo import try_next
from tests.docs.commands import Block, Command, blocks_in
from tests.docs.shell import STOP_TIMEOUT_S, Finished, Namespace

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUN_TIMEOUT = 240.0  # one command that runs to its end
SERVER_READY = 60.0  # a documented server listens within this
CHECKOUT_ONLY = {".git", ".venv", ".aigw", ".pytest_cache", ".mypy_cache", ".ruff_cache", "test-artifacts"}
S3_PORT = 5999
MAKE_BUCKET = f"""
import sys
import pyarrow.fs as fs
s3 = fs.S3FileSystem(endpoint_override="127.0.0.1:{S3_PORT}", scheme="http", allow_bucket_creation=True)
s3.create_dir("bucket")
if sys.argv[1] == "with-lake":
    fs.copy_files(".aigw/lake", "bucket/lake", source_filesystem=fs.LocalFileSystem(),
                  destination_filesystem=s3)
"""
DAGSTER_UI = re.compile(r"(^|\s)dg dev\b")
"""Dagster's own command: judged on starting and serving its port, not on how it stops. When its whole
process group gets SIGTERM (as from a supervisor, or SIGINT from Ctrl-C), Dagster's proxy server
manager can restart the code server the signal just ended, and that orphan outlives the stop or dies
with a traceback (2 of 3 runs here). aigw's own commands must stop cleanly."""
LAKE_ON_S3 = "bucket/lake"
LONG_BLOCK_TIMEOUT = 1200  # a block of several pipeline runs takes minutes on a busy machine
LONG_JOB_SLICE = 8.0  # a long job runs this long, then must stop cleanly on SIGTERM


def all_blocks() -> list[Block]:
    blocks = [block for page in PAGES for block in blocks_in(page, str(page.relative_to(REPO)))]
    # The demo's hints run like a block; a load-test playbook among them is a long job (minutes).
    hints = tuple(Command(f"aigw demo hint {n}", text, long_running=text.startswith("aigw loadtest"))
                  for n, text in enumerate(try_next(8501), 1))
    return [*blocks, Block("aigw demo (its 'What to try' list)", "run", hints)]


BLOCKS = all_blocks()
# Commands that run for minutes (a simulation, the pipelines, the demo, a load test, the Dagster UI): their
# blocks run in `make test-long`, the rest in `make test`.
LONG_JOB = re.compile(r"(^|[\s;&|(])(aigw (simulate|pipeline|demo|loadtest)\b|dg dev\b)")


def block_param(block: Block) -> object:
    long = any(LONG_JOB.search(command.text) for command in block.commands)
    marks = [pytest.mark.long, pytest.mark.timeout(LONG_BLOCK_TIMEOUT)] if long else []
    return pytest.param(block, id=block.source, marks=marks)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reader")
    for entry in REPO.iterdir():
        if entry.name not in CHECKOUT_ONLY:
            (folder / entry.name).symlink_to(entry)
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = reader_env()
    aigw = str(folder / ".venv" / "bin" / "aigw")
    demo = subprocess.run([aigw, "demo", "--no-dashboard", "--scale", "0.02"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    return folder


def reader_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIGW_", "DAGSTER_", "VIRTUAL_ENV"))}
    return env | {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",  # a moto server inside the block's namespace
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    with Namespace(env=reader_env()) as space:
        yield space


def start_s3(namespace: Namespace, sandbox: Path, log: Path, copy_lake: bool) -> subprocess.Popen[bytes]:
    """moto in the namespace with a bucket ``bucket``; with ``copy_lake`` it holds a copy of the sandbox
    lake at ``lake/`` (copying takes a while: only blocks that read it pay for it). It is the test's
    stand-in for S3, not a documented command: its log is not judged."""
    moto = namespace.start(f"python -m moto.server -H 127.0.0.1 -p {S3_PORT}", sandbox, log)
    assert namespace.wait_for_port(S3_PORT, SERVER_READY), log.read_text()
    what = "with-lake" if copy_lake else "empty"
    done = namespace.run(f"python -c '{MAKE_BUCKET}' {what}", sandbox, RUN_TIMEOUT)
    assert done.returncode == 0, done.output
    return moto


def test_the_pages_hold_commands() -> None:
    commands = [c for block in BLOCKS for c in block.commands]
    assert len(commands) >= 30
    assert any(c.text.startswith("aigw sql") for c in commands)


@pytest.mark.parametrize("block", [block_param(block) for block in BLOCKS])
def test_block_runs_as_printed(block: Block, sandbox: Path, namespace: Namespace, tmp_path: Path) -> None:
    if block.mode == "make-dry-run":
        for command in block.commands:
            words = command.text.split("#")[0].split()
            assert words[0] == "make", f"{command.source}: only make targets can be dry-run"
            done = subprocess.run(["make", "-n", *words[1:]], cwd=sandbox, capture_output=True, text=True,
                                  timeout=60, check=False)
            assert done.returncode == 0 and done.stdout.strip(), f"{command.source}: {done.stderr}"
        return
    s3 = None
    if any("s3://" in command.text for command in block.commands):
        copy_lake = any(f"s3://{LAKE_ON_S3}" in command.text for command in block.commands)
        s3 = start_s3(namespace, sandbox, tmp_path / "moto.log", copy_lake)
    for number, command in enumerate(block.commands):
        log = tmp_path / f"{number}.log"
        if command.background:
            process = namespace.start(command.text, sandbox, log)
            port = command.port
            assert port is not None, f"{command.source}: a background command must be a known server"
            assert namespace.wait_for_port(port, SERVER_READY), f"{command.source}: {log.read_text()}"
        elif command.port is not None or command.long_running or block.mode == "long-running":
            check_long_running(command, namespace, sandbox, log)
        elif command.text.startswith("make "):  # may install packages: outside the offline namespace
            done = run_outside(command.text, sandbox)
            assert done.returncode == 0, f"{command.source}: {command.text}\n{done.output}"
        else:
            done = namespace.run(command.text, sandbox, RUN_TIMEOUT)
            if command.expected_output is not None:
                assert lines(done.output) == lines(command.expected_output), command.source
                assert (done.returncode != 0) == done.output.startswith("Error:"), command.source
            else:
                assert done.returncode == 0, f"{command.source}: {command.text}\n{done.output}"
            assert "Traceback" not in done.output, f"{command.source}: {done.output}"
    if s3 is not None:
        namespace.stop(s3)
    for process, log in list(namespace.started):
        assert namespace.stop(process), f"{block.source}: a background server ignored SIGTERM"
        assert "Traceback" not in log.read_text(), f"{block.source}: {log.read_text()}"


def run_outside(text: str, sandbox: Path) -> Finished:
    """A make target as printed, in the sandbox, with the network a reader has (``make install``)."""
    done = subprocess.run(["bash", "-c", f"source .venv/bin/activate && {text}"], cwd=sandbox,
                          env=reader_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=RUN_TIMEOUT, check=False)
    return Finished(done.returncode, done.stdout)


def check_long_running(command: Command, namespace: Namespace, sandbox: Path, log: Path) -> None:
    process = namespace.start(command.text, sandbox, log)
    if command.port is not None:
        assert namespace.wait_for_port(command.port, SERVER_READY), f"{command.source}: {log.read_text()}"
    else:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=LONG_JOB_SLICE)
    assert process.poll() in (None, 0), f"{command.source}: exited {process.returncode}\n{log.read_text()}"
    stopped = namespace.stop(process)
    output = log.read_text()
    if DAGSTER_UI.search(command.text):
        return  # started and served its port: that is what the page promises (see DAGSTER_UI)
    assert stopped, f"{command.source}: still running {STOP_TIMEOUT_S:g} s after SIGTERM\n{output}"
    assert "Traceback" not in output, f"{command.source}: {output}"


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]
