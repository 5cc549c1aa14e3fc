"""The ``rnnlab`` command line.

    rnnlab demo [--seed N]    walk through what LSTM, GRU, Bidirectional and stacked LSTMs return (o, h, c)
                              and check each relation; exit status 0 when all hold, 1 otherwise
    rnnlab inspect ...        write an HTML report of a model's recurrent layers (rnnlab.inspect.cli)

``main(argv)`` returns the exit status instead of exiting, so it can be called from tests; the ``rnnlab`` console
script and ``python -m rnnlab.cli`` exit with it.
"""

import argparse
import os
import sys


def build_parser():
    from rnnlab import __version__

    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="rnnlab: the Keras recurrent API (LSTM, GRU, SimpleRNN, Bidirectional, ...) on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show what LSTM/GRU/Bidirectional return (o, h, c) and check how they relate",
        description="Run one random sequence through LSTM (all four return_sequences/return_state combinations), "
        "GRU, Bidirectional(LSTM) and a stacked LSTM; print o, h and c with their shapes and check each relation "
        "(o == h, h == o[:, -1], c is the cell state, ...). Exit status 0 when every relation holds, 1 otherwise.",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed for the input and the weights (default: 0)")
    demo.set_defaults(handler=_run_demo)

    from rnnlab.inspect import cli as inspect_cli

    inspect = commands.add_parser(
        "inspect",
        help="write an HTML report of what a model's recurrent layers compute (gates, states, statistics, plots)",
        description=inspect_cli.build_parser().description,
    )
    inspect_cli.configure_parser(inspect)
    inspect.set_defaults(handler=lambda args: inspect_cli.run(args, inspect))
    return parser


def _run_demo(args):
    from rnnlab.demo import run

    try:
        return run(seed=args.seed)
    except BrokenPipeError:  # output piped into a reader that stopped early (rnnlab demo | head)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 1


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 1
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
