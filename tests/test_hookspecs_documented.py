"""Every hook in ``hub.hookspecs`` is documented: in its docstring and in ``docs/hookspecs.md``.

Modelled on datasette's ``test_plugin_hooks_are_documented``: each hook needs a heading with its
exact signature, ``### name(arg1, arg2)``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub import hookspecs
from hub.plugins import create_plugin_manager

DOC = Path(__file__).resolve().parent.parent / "docs" / "hookspecs.md"
HEADING = re.compile(r"^#{2,4} `?(?P<name>[a-z_]+)\((?P<args>[a-z_, ]*)\)`?\s*$", re.MULTILINE)


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: obj
        for name, obj in vars(hookspecs).items()
        if callable(obj) and hasattr(obj, f"{hookspecs.PROJECT_NAME}_spec")
    }


SPECS = hookspec_functions()


def signature(func: Callable[..., Any]) -> str:
    return f"{func.__name__}({', '.join(inspect.signature(func).parameters)})"


def documented() -> dict[str, str]:
    return {m["name"]: f"{m['name']}({m['args']})" for m in HEADING.finditer(DOC.read_text())}


def test_the_plugin_manager_knows_exactly_these_hooks() -> None:
    pm = create_plugin_manager()
    assert {name for name in vars(pm.hook) if not name.startswith("_")} == set(SPECS)
    assert len(SPECS) >= 25


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_has_a_heading_with_its_exact_signature(name: str) -> None:
    headings = documented()
    assert name in headings, f"docs/hookspecs.md has no heading for {name}"
    assert headings[name] == signature(SPECS[name])


def test_every_documented_hook_exists() -> None:
    assert set(documented()) <= set(SPECS), "docs/hookspecs.md documents hooks that do not exist"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_hook_docstring_describes_every_parameter(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    assert doc, f"{name} has no docstring"
    for parameter in inspect.signature(SPECS[name]).parameters:
        assert f":param {parameter}:" in doc, f"{name}: :param {parameter}: missing"


def test_every_event_mapping_is_documented_and_points_at_a_hook() -> None:
    text = DOC.read_text()
    for event, hook in hookspecs.EVENT_HOOKS.items():
        assert hook in SPECS
        assert f"`{event}`" in text, f"event {event} is not in docs/hookspecs.md"
    event_hooks = {n for n in SPECS if n.startswith("on_")}
    assert set(hookspecs.EVENT_HOOKS.values()) == event_hooks
    assert set(SPECS) - event_hooks == hookspecs.LIFECYCLE_HOOKS


def test_event_hooks_receive_a_context_and_are_not_first_result_or_historic() -> None:
    for name, func in SPECS.items():
        options = getattr(func, f"{hookspecs.PROJECT_NAME}_spec")
        assert not options.get("firstresult"), name
        assert not options.get("historic"), name
        if name.startswith("on_"):
            assert list(inspect.signature(func).parameters)[-1] == "ctx", name
