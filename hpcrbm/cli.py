"""The ``hpcrbm`` command line (also ``python -m hpcrbm``).

Exit status: 0 done; 2 bad input (one line on stderr naming the key or file, no
traceback, no output written); 75 stopped by SIGTERM or SIGUSR1 after writing a checkpoint
(run the same command again to resume); 130 Ctrl-C; 1 anything else, with the failing rank named.
"""
import argparse
import json
import os
import sys
import traceback

from . import __version__
from .errors import EXIT_STOPPED, InputError, Stopped, write_failure
from .protocol.stop import catch_stop_signals, release_stop_signals

# No NumPy (or anything that loads it) at the top of this module: main() sizes the BLAS thread
# pools first, and BLAS reads its thread count once, when NumPy loads it.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_LOCAL_RANKS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE")


def set_blas_threads(environ=os.environ):
    """Under an MPI launcher, give each rank's BLAS its share of the cores (cores / ranks on this
    node) unless the user set a thread count: BLAS threads of several ranks spinning on the same
    cores slow every rank down many times over. The command line's first step (main), before
    NumPy loads its BLAS; a library user sets these variables, if at all, themselves."""
    if any(name in environ for name in _BLAS_THREADS):
        return
    for variable in _LOCAL_RANKS:
        local = environ.get(variable, "").split("(")[0]
        if local.isdigit() and int(local) > 0:
            threads = max(1, len(os.sched_getaffinity(0)) // int(local))
            for name in _BLAS_THREADS:
                environ[name] = str(threads)
            return


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"hpcrbm: error: {message} (see hpcrbm {self.prog.split()[-1]} --help)"
              if " " in self.prog else f"hpcrbm: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _load_config(args):
    from .config import load, toml_value
    overrides = list(args.set or [])
    if getattr(args, "out", None):
        overrides.append(f"run.out={toml_value(args.out)}")
    return load(args.config, overrides)


def _world(args):
    from .log import setup_logging
    from .parallel import Communicator
    if not (args.func in (cmd_source, cmd_stage, cmd_run) or getattr(args, "action", None) == "run"):
        release_stop_signals()  # only the commands that compute honour SIGTERM/SIGUSR1 (caught in main)
    comm = Communicator.world()
    setup_logging(comm, quiet=getattr(args, "quiet", False))
    return comm


def cmd_source(args, comm):
    """The source stage (simulate CONFIG): the run's data from a config file."""
    from .backend import select_backend
    from .pipeline import run_stage
    from .stages import stage_named
    cfg = _load_config(args)
    path = run_stage(stage_named(args.command), cfg, comm, select_backend(cfg.run.backend, comm), quiet=args.quiet)
    if comm.is_root:
        print(path)
    return 0


def cmd_stage(args, comm):
    """train / thermometer / flow / analyze RUN_DIR: run the stage, print the file it wrote."""
    from .pipeline import run_stage_command
    path = run_stage_command(args.command, args.run_dir, comm, overrides=args.set or [], quiet=args.quiet)
    if comm.is_root:
        print(path)
    return 0


def cmd_run(args, comm):
    from .backend import select_backend
    from .pipeline import run_all
    cfg = _load_config(args)
    path = run_all(cfg, comm, select_backend(cfg.run.backend, comm), quiet=args.quiet)
    if comm.is_root:
        print(path)
    return 0


def cmd_plan(args, comm):
    """Stages, memory and disk per rank, expected files and every stage's time, before any work."""
    from .plan import check, check_ranks, plan_text, time_estimates
    cfg = _load_config(args)
    ranks = comm.size if args.ranks is None else args.ranks
    check_ranks(cfg, ranks)
    estimates = None if args.no_bench or not comm.is_root else time_estimates(cfg, ranks)
    here = comm.node()[1] if not args.ranks else min(args.ranks, os.cpu_count() or 1)
    if comm.is_root:
        print(plan_text(cfg, ranks, here, estimates))
    from .stages import registered
    check(cfg, [s.name for s in registered()], comm)
    if comm.is_root:
        print("fits: yes")
    return 0


def cmd_campaign(args, comm):
    from .campaign import format_status, load_campaign, status, status_json
    campaign = load_campaign(args.file)
    runs = campaign.runs()
    if args.action == "status":
        if comm.is_root:
            rows = status(campaign)
            print(status_json(rows) if args.json else format_status(rows))
        return 0
    if args.action == "list":
        if comm.is_root:
            for i, (name, overrides) in enumerate(runs):
                print(i, name, " ".join(overrides))
        return 0
    from .backend import select_backend
    from .pipeline import run_all
    indices = range(len(runs)) if args.index is None else [args.index]
    if args.index is not None and not 0 <= args.index < len(runs):
        raise InputError(f"--index {args.index}: the campaign has runs 0..{len(runs) - 1}")
    for i in indices:
        cfg = campaign.config(i)
        run_all(cfg, comm, select_backend(cfg.run.backend, comm), quiet=args.quiet)
    return 0


def cmd_posthoc(args, comm):
    from . import posthoc
    if not comm.is_root:
        return 0
    if args.command == "merge":
        print(f"{posthoc.merge(args.run_dirs, args.csv)} rows -> {args.csv}")
    elif args.command == "export":
        print(f"{posthoc.export(args.run_dir, args.csv)} rows -> {args.csv}")
    else:
        for path in posthoc.redraw(args.run_dir, type(comm).alone()):
            print(path)
    return 0


def cmd_report(args, comm):
    from .report import write_report
    if comm.is_root:
        written = write_report(args.run_dirs, args.out)
        if written is not None:
            print(written)
    return 0


def cmd_summary(args, comm):
    from .io.summary import Summary
    from .report import one_screen
    if comm.is_root:
        print("\n".join(one_screen(args.run_dir, Summary.read(args.run_dir))))
    return 0


def cmd_info(args, comm):
    from .io.inspect import describe, format_description
    info = describe(args.file)
    if comm.is_root:
        print(json.dumps(info, indent=2, default=str) if args.json else format_description(info))
    return 0


def cmd_validate(args, comm):
    from .validate import format_table, run_checks
    if not comm.is_root:
        return 0
    checks = run_checks(quick=args.quick)
    print(format_table(checks))
    return 0 if all(c.passed for c in checks) else 1


def cmd_bench(args, comm):
    from .backend import select_backend
    from .bench import bench_mc, bench_rbm
    backend = select_backend(args.backend, comm)
    if args.what == "rbm":
        result = bench_rbm(comm, backend, n_hidden=args.hidden, batch_size=args.batch_size, epochs=args.epochs,
                           dtype=args.dtype, L=args.L or 10)
        if comm.is_root:
            device = (f", products {result['product_flops'] / 1e12:.2f} TFLOP/s = "
                      f"{result['fraction_of_float32_matmul']:.0%} of the float32 matrix product"
                      if "product_flops" in result else "")
            print(json.dumps(result) if args.json else
                  f"RBM PCD-1 Nv={result['n_visible']} Nh={result['n_hidden']} batch {result['batch_size']} "
                  f"{result['dtype']} on {result['ranks']} rank(s), {result['device']}: "
                  f"{result['samples_per_s']:.0f} samples/s{device}")
        return 0
    result = bench_mc(comm, backend, L=args.L or 1024, dim=args.dim, temperature=args.T, replicas=args.replicas,
                      sweeps=args.sweeps, kind=args.model, q=args.q, algorithm=args.algorithm,
                      path=args.path)
    if comm.is_root:
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{result['model']} q={result['q']} {result['algorithm']} {result['dim']}D L={result['L']} x "
                  f"{result['replicas']} replicas, {result['sweeps']} "
                  f"sweeps on {result['ranks']} rank(s), {result['device']}: "
                  f"{result['flips_per_ns']:.4f} flips/ns")
    return 0


def _options(*add):
    """A parent parser (argparse ``parents=``) holding the options that several commands share."""
    parent = argparse.ArgumentParser(add_help=False)
    for args, kwargs in add:
        parent.add_argument(*args, **kwargs)
    return parent


# Commands that use no stage: their parser is built without importing the stage registry (which
# imports NumPy, SciPy, numba and h5py), so they start in a fraction of a second.
WITHOUT_STAGES = ("--version", "merge", "export", "redraw", "report", "summary", "info", "validate", "bench")


def _stages_for(argv):
    """The registered stages, or none when the command in ``argv`` uses none."""
    first = next((a for a in argv if not a.startswith("-") or a == "--version"), None)
    if first in WITHOUT_STAGES:
        return ()
    from .stages import registered
    return registered()


def build_parser(stages=None):
    """The command line; ``stages``: those to make commands of (default: the registry's)."""
    if stages is None:
        from .stages import registered
        stages = registered()
    parser = _Parser(prog="hpcrbm", description="Monte Carlo spin models, RBMs and RBM flows.")
    parser.add_argument("--version", action="version", version=f"hpcrbm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    config = _options((("config",), dict(help="TOML config file")),
                      (("--out",), dict(help="run directory (overrides run.out)")),
                      (("--set",), dict(action="append", metavar="KEY=VALUE", help="override a dotted config key")))
    quiet = _options((("--quiet",), dict(action="store_true", help="no progress bar or info messages")))
    as_json = _options((("--json",), dict(action="store_true", help="print JSON instead of text")))

    source = [(s.name, f"{s.summary} (writes {s.output})", cmd_source) for s in stages if s.source]
    run = [("run", f"every stage in order ({', '.join(s.name for s in stages)}); resumable", cmd_run)] if stages else []
    for name, help_text, func in (*run, *source):
        p = sub.add_parser(name, help=help_text, parents=[config, quiet])
        p.set_defaults(func=func)

    p = sub.add_parser("plan", help="stages, memory and disk per rank, files and every stage's time, before any work",
                       parents=[config])
    p.add_argument("--ranks", type=int, help="plan for this many ranks (default: the ranks it runs on)")
    p.add_argument("--no-bench", action="store_true",
                   help="no time estimate (it measures each stage's inner step for a few seconds)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("campaign", help="many runs from one campaign file (a sweep over config keys)",
                       parents=[quiet])
    p.add_argument("action", choices=["run", "status", "list"])
    p.add_argument("file", help="campaign TOML file")
    p.add_argument("--index", type=int, help="run: only this run (e.g. $SLURM_ARRAY_TASK_ID)")
    p.add_argument("--json", action="store_true", help="status: as JSON")
    p.set_defaults(func=cmd_campaign)

    p = sub.add_parser("merge", help="merge the summary.json of many runs into one CSV table")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--csv", required=True, help="output CSV file")
    p.set_defaults(func=cmd_posthoc)

    p = sub.add_parser("export", help="export a run's Monte Carlo summary to CSV")
    p.add_argument("run_dir")
    p.add_argument("--csv", required=True, help="output CSV file")
    p.set_defaults(func=cmd_posthoc)

    p = sub.add_parser("redraw", help="redraw a run's figures from its files alone")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_posthoc)

    outputs = {s.name: s.output for s in stages}
    for stage in (s for s in stages if not s.source):
        written = ", ".join((stage.output, *stage.extra_outputs))
        p = sub.add_parser(stage.name, help=f"{stage.summary} (writes {written})", parents=[quiet])
        p.add_argument("run_dir", help=f"run directory holding current {', '.join(outputs[r] for r in stage.reads)}")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help=f"override a key of this stage's own config ({', '.join(stage.sections)}), or "
                            "run.backend, run.checkpoint_interval")
        p.set_defaults(func=cmd_stage)

    p = sub.add_parser("report", help="the study's report (verdict per claim) from the runs' summaries alone")
    p.add_argument("run_dirs", nargs="+", help="run directories holding summary.json and figures/")
    p.add_argument("--out", help="Markdown file to write (figures linked relative to it); without: print it")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("summary", help="a run's results on one screen, from its summary.json")
    p.add_argument("run_dir", help="run directory holding summary.json")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("info", help="what an HDF5 file holds and whether its stage completed", parents=[as_json],
                       description="What an HDF5 file written by hpcrbm holds: the stage that wrote it and whether "
                                   "it completed, its provenance attributes, and its datasets with dtype and shape.")
    p.add_argument("file", help="HDF5 file (e.g. RUN_DIR/samples.h5)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("validate", help="check Monte Carlo against exact results",
                       description="Check this installation's Monte Carlo against exact results (enumeration, "
                                   "Kaufman's solution, transfer matrices) with fixed seeds, and print a pass/fail "
                                   "table; exit status 1 if any check fails.")
    p.add_argument("--quick", action="store_true", help="seconds instead of about a minute")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("bench", help="throughput benchmarks", parents=[as_json])
    p.add_argument("what", choices=["mc", "rbm"])
    p.add_argument("--L", type=int, default=None, help="linear lattice size (mc: 1024; rbm: 10, Nv = L**2)")
    p.add_argument("--dim", type=int, choices=[1, 2], default=2)
    p.add_argument("--model", choices=["ising", "potts", "clock"], default="ising")
    p.add_argument("--q", type=int, default=2, help="states of the Potts or clock model")
    p.add_argument("--algorithm", choices=["metropolis", "wolff", "swendsen-wang"], default="metropolis")
    p.add_argument("--T", type=float, default=2.269, help="temperature")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--sweeps", type=int, default=0, help="timed sweeps (0: about 2e8 flips, 2e10 on a GPU)")
    p.add_argument("--path", choices=["auto", "lanes", "compact", "shared", "global"], default="auto",  # gpu.PATHS
                   help="GPU launch shape (docs/gpu.md)")
    p.add_argument("--hidden", type=int, default=64, help="rbm: hidden units")
    p.add_argument("--batch-size", type=int, default=100, help="rbm: minibatch size")
    p.add_argument("--epochs", type=int, default=3, help="rbm: timed epochs")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="rbm: precision")
    p.add_argument("--backend", choices=["auto", "cpu", "gpu"], default="auto")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    """The ``hpcrbm`` command (console script and ``python -m hpcrbm``); returns the exit status."""
    catch_stop_signals()  # first: a stop signal while NumPy, h5py and MPI load still stops with 75
    set_blas_threads()  # before build_parser: the stage registry imports NumPy
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_stages_for(argv)).parse_args(argv)
    comm = _world(args)
    try:
        return args.func(args, comm)
    except InputError as exc:
        if comm.is_root:
            print(f"hpcrbm: error: {exc}", file=sys.stderr)
        return 2
    except Stopped as exc:
        if comm.is_root:
            print(f"hpcrbm: stopped by {exc}; checkpoint written, run the same command again to resume",
                  file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:  # Ctrl-C (SIGINT) on this rank: the others must not wait for it
        if comm.size > 1:
            comm.abort(130)
        return 130
    except BrokenPipeError:  # output piped into head and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - report, name the rank, and stop the other ranks
        failure = write_failure(exc)
        if failure is not None:  # one line; skip HDF5's clean-up of files it cannot write (it crashes)
            print(f"hpcrbm: rank {comm.rank} of {comm.size}: cannot write {failure}", file=sys.stderr, flush=True)
            if comm.size > 1:
                comm.abort(1)
            os._exit(1)
        print(f"hpcrbm: rank {comm.rank} of {comm.size} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        traceback.print_exc()
        comm.abort(1)
        return 1
