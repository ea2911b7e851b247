"""``connect-hub replay``: run a scenario (the oracle's format) and print the events as JSON lines."""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import IO

import click

from hub.replay import load_scenario, replay_scenario


def bundled_scenario(name: str) -> str:
    """The text of a scenario bundled with the hub (``hub/scenarios/NAME.json``)."""
    return resources.files("hub").joinpath("scenarios", f"{name}.json").read_text(encoding="utf-8")


@click.command()
@click.argument("scenario", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--bundled", metavar="NAME", help="Replay a scenario bundled with the hub (e.g. inbound_voice).")
@click.option("--events-only", is_flag=True, help="Print only the event lines.")
def replay(scenario: IO[str] | None, bundled: str | None, events_only: bool) -> None:
    """Replay SCENARIO (a file, or - for stdin) and print every event as a JSON line.

    The output compares line by line with the real Streams library's (``node oracle.js SCENARIO``) on
    ``(step, depth, event, payload)`` for ``kind == "event"``.
    """
    if (scenario is None) == (bundled is None):
        raise click.UsageError("give either a SCENARIO file or --bundled NAME")
    try:
        text = bundled_scenario(bundled) if bundled else scenario.read()  # type: ignore[union-attr]
        doc = load_scenario(json.loads(text))
    except FileNotFoundError as err:
        raise click.BadParameter(f"no bundled scenario named {bundled!r}", param_hint="--bundled") from err
    except (json.JSONDecodeError, ValueError) as err:
        raise click.ClickException(f"not a valid scenario: {err}") from err
    out = sys.stdout
    for line in replay_scenario(doc):
        if events_only and line["kind"] != "event":
            continue
        out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
