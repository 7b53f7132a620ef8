"""Job scripts are valid bash and call the CLI only with flags it has."""
import re
import subprocess

import pytest

from hpcrbm.cli import build_parser

from .conftest import ROOT

SCRIPTS = sorted((ROOT / "jobs").glob("*")) + sorted((ROOT / "benchmarks").glob("*.sh")) + \
    sorted((ROOT / "tools").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_valid_bash(script):
    assert subprocess.run(["bash", "-n", script]).returncode == 0


def subcommand_flags():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: {s for a in p._actions for s in a.option_strings} for name, p in sub.choices.items()}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_uses_real_cli_flags(script):
    flags = subcommand_flags()
    for line in script.read_text().splitlines():
        match = re.search(r"-m hpcrbm (\w+)(.*)", line)
        if not match:
            continue
        command, rest = match.groups()
        assert command in flags, line
        for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest):
            assert flag in flags[command], f"{script.name}: {flag} is not a flag of hpcrbm {command}"
