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


@pytest.mark.parametrize("script", sorted((ROOT / "jobs").glob("*.sbatch")), ids=lambda p: p.name)
def test_sbatch_scripts_are_requeue_safe(script):
    """Warned by USR1 before the time limit, hpcrbm exits 75 and the job requeues itself
    (tests/slurm runs this under a real Slurm)."""
    text = script.read_text()
    for line in ("#SBATCH --requeue", "#SBATCH --open-mode=append", "#SBATCH --signal=B:USR1@",
                 "trap 'warned=$SECONDS; kill -USR1 \"$step\"", "trap 'kill -TERM \"$step\"", '"$status" -eq 75',
                 'scontrol requeue "$SLURM_JOB_ID"'):
        assert line in text, f"{script.name}: no {line}"
    assert re.search(r"^srun python -m hpcrbm .*&$", text, re.M), f"{script.name}: srun not in the background"
