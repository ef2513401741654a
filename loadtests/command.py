"""``aigw loadtest NAME``: run a playbook headless, print its verdict table, exit 0 on pass, 1 on fail."""

from __future__ import annotations

from pathlib import Path

import click

from loadtests.playbooks import PLAYBOOKS


@click.command("loadtest")
@click.argument("name", type=click.Choice(sorted(PLAYBOOKS)))
@click.option("--duration", type=click.FloatRange(min=1), default=None,
              help="Seconds of load. Default: the playbook's full length (docs/loadtests.md).")
@click.option("--host", "hosts", multiple=True,
              help="A running gateway (loopback only); repeat it or separate by commas for a fleet (or give "
                   "its load balancer). Default: start a provider and gateway(s) for this run.")
@click.option("--replicas", type=click.IntRange(min=1), default=1, show_default=True,
              help="Without --host: gateways to start, sharing a private redis-server "
                   "(state.backend: redis).")
@click.option("--provider-url", default="http://127.0.0.1:9000", show_default=True,
              help="With --host: the simulated provider whose /_control/faults the playbook drives.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help="Policy YAML, a full config or an overlay ('base: demo' plus changes). Without --host: "
                   "the gateway's config (default: loadtests/configs/NAME.yaml); with --host: the config "
                   "that gateway runs.")
@click.option("--lake", "lake_url", default=None,
              help="Lake folder or s3://bucket/prefix. Default: $AIGW_LAKE or ./.aigw/lake.")
@click.option("--users", type=click.IntRange(min=1), default=None,
              help="Locust users (default: the playbook's).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep logs and Locust's files here (default: a temporary folder, removed after a pass).")
@click.option("--web", is_flag=True,
              help="Open Locust's own web UI on the playbook (provider and gateway started as usual; "
                   "no verdict).")
@click.option("--web-port", type=click.IntRange(1, 65535), default=8089, show_default=True,
              help="With --web: the UI's port on 127.0.0.1.")
def loadtest(name: str, duration: float | None, hosts: tuple[str, ...], replicas: int, provider_url: str,
             config_path: Path | None, lake_url: str | None, users: int | None, workdir: Path | None,
             web: bool, web_port: int) -> None:
    """Run the Locust playbook NAME and judge it from Locust's stats and the gateway's telemetry."""
    from aigw.signals import interrupt_on_stop_signals
    from gateway_shim.config.loader import ConfigError
    from gateway_shim.telemetry.storage import default_lake_url
    from loadtests.harness import HarnessError, RunOptions, run_playbook
    from loadtests.playbooks import playbook
    from loadtests.summary import render_table, verdict_line

    book = playbook(name)
    if duration is not None and duration < book.min_duration_s:
        raise click.BadParameter(f"{name} needs at least {book.min_duration_s:g}s to measure its criteria",
                                 param_hint="--duration")
    if users is not None and book.users is None:
        raise click.BadParameter(f"{name}'s load shape sets the users", param_hint="--users")
    addresses = tuple(h.strip() for given in hosts for h in given.split(",") if h.strip())
    if addresses and replicas > 1:
        raise click.BadParameter("--replicas starts a fleet; --host judges a running one: give one of them",
                                 param_hint="--replicas")
    if web and (addresses or replicas > 1):
        raise click.BadParameter("--web starts its own provider and one gateway", param_hint="--web")
    options = RunOptions(playbook=book, duration_s=duration or book.duration_s,
                         lake_url=lake_url or default_lake_url(), hosts=addresses, provider_url=provider_url,
                         config_path=config_path, users=users, workdir=workdir, replicas=replicas,
                         web_port=web_port if web else None)
    if web:
        from loadtests.web import run_web

        try:
            with interrupt_on_stop_signals():  # SIGTERM too stops Locust, the gateway and the provider
                run_web(options, click.echo)
        except (HarnessError, ConfigError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("aigw loadtest: stopped", err=True)
        return
    fresh = "a fresh provider and gateway" if replicas == 1 else (
        f"a fresh provider and {replicas} gateways sharing a private redis-server")
    click.echo(f"aigw loadtest {name}: {options.duration_s:g}s "
               f"{'against ' + ', '.join(addresses) if addresses else 'on ' + fresh}", err=True)
    try:
        with interrupt_on_stop_signals():  # SIGTERM too stops Locust, the gateway and the provider
            result = run_playbook(options, progress=lambda line: click.echo(line, err=True))
    except (HarnessError, ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"aigw loadtest {name}: stopped before a verdict", err=True)
        raise SystemExit(130) from None
    summary = result.summary
    click.echo(render_table(result.criteria))
    click.echo(f"\n{verdict_line(summary)}\nrun {result.run_id}")
    failed = [c.name for c in result.criteria if not c.passed]
    if failed:
        click.echo(f"failed: {', '.join(failed)}")
    report = result.summary_path.removesuffix("summary.json")
    click.echo(f"report: {result.summary_path} (Locust's HTML report: {report}report.html)")
    if result.workdir is not None:
        click.echo(f"logs: {result.workdir}")
    raise SystemExit(0 if summary["verdict"] == "pass" else 1)
