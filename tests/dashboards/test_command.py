from __future__ import annotations

from click.testing import CliRunner

from aigw.cli import main
from dashboards.command import APP, streamlit_argv


def test_streamlit_runs_headless_on_the_given_address() -> None:
    argv = streamlit_argv("127.0.0.1", 8600)
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4] == str(APP)
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.headless"] == "true"
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8600"
    assert options["--browser.gatherUsageStats"] == "false"


def test_the_command_documents_its_options_and_rejects_a_bad_port() -> None:
    runner = CliRunner()
    usage = runner.invoke(main, ["dashboard", "--help"])
    assert usage.exit_code == 0
    for option in ("--port", "--host", "--warehouse"):
        assert option in usage.output
    bad = runner.invoke(main, ["dashboard", "--port", "70000"])
    assert bad.exit_code == 2
    assert "70000 is not in the range" in bad.output
