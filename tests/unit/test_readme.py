"""The README is the newcomer's manual: its roles table and its commands must stay true."""

from __future__ import annotations

from pathlib import Path

from api.cli import build_parser
from auth.roles import PERMISSIONS, ROLE_PERMISSIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_lists_every_role_with_its_permissions():
    for role, granted in ROLE_PERMISSIONS.items():
        row = next((line for line in README.splitlines() if line.startswith(f"| `{role}` |")), None)
        assert row is not None, f"README has no row for {role}"
        if granted != frozenset(PERMISSIONS):
            assert {p for p in PERMISSIONS if f"`{p}`" in row} == granted, role


def test_readme_explains_every_permission():
    for permission in PERMISSIONS:
        assert f"| `{permission}` |" in README


def test_readme_opens_with_the_two_commands():
    assert "pip install -e . && splitledger demo" in README
    assert 'pip install -e ".[test]" && pytest' in README


def test_every_cli_command_is_in_the_readme():
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"`{name}`" in README, name


def test_every_environment_variable_is_documented():
    import re

    sources = [Path(__file__).resolve().parents[2] / "api" / name for name in ("settings.py", "cli.py")]
    names = set()
    for source in sources:
        names |= set(re.findall(r"\"(SPLITLEDGER_[A-Z_]+)\"", source.read_text()))
    assert names, "no variables found: has settings.py moved?"
    for name in sorted(names):
        assert f"`{name}`" in README, name
