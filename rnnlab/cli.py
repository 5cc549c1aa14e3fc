"""The ``rnnlab`` command line.

    rnnlab demo [--seed N]    walk through what LSTM, GRU, Bidirectional and stacked LSTMs return (o, h, c)
                              and check each relation; exit status 0 when all hold, 1 otherwise
    rnnlab inspect ...        write an HTML report of a model's recurrent layers (rnnlab.inspect.cli)
    rnnlab convert IN OUT     convert a model between .keras/.h5, .weights.h5/.weights.npz, PyTorch
                              (.safetensors/.pt) and .onnx, formats chosen by extension
    rnnlab info FILE          print a file's layers or tensors, shapes and parameter counts
    rnnlab info --runtime     print which kernels run (rnnlab.runtime_info()): native variant or NumPy, threads,
                              and why the native kernels are not used

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

    convert = commands.add_parser(
        "convert",
        help="convert a model file; formats follow the extensions (.keras .h5 .weights.h5 .weights.npz "
             ".safetensors .pt .onnx)",
        description="Read IN and write the same model to OUT. Sources: .keras, .h5 (Keras), .safetensors, .pt, "
        ".pth (a PyTorch nn.LSTM/GRU/RNN state dict, optionally with one nn.Linear head). Targets: .keras, "
        ".weights.h5, .weights.npz, .safetensors, .pt, .onnx. Writes are atomic.",
    )
    convert.add_argument("input", metavar="IN")
    convert.add_argument("output", metavar="OUT")
    convert.add_argument("--opset", type=int, default=None, help="ONNX opset for .onnx targets")
    convert.add_argument("--nonlinearity", choices=["tanh", "relu"], default=None,
                         help="nonlinearity of a PyTorch nn.RNN source (its state dict does not record it)")
    convert.add_argument("--return-sequences", action="store_true",
                         help="for PyTorch sources: the model returns every step's output")
    convert.set_defaults(handler=_run_convert)

    info = commands.add_parser("info", help="print a model or weights file's layers, shapes and parameter counts, "
                               "or (--runtime) which kernels run",
                               description="Describe FILE: layers or tensors, shapes, dtypes and parameter counts. "
                               "With --runtime, print rnnlab.runtime_info(): the kernel that runs (a native "
                               "variant or numpy), the threads, and why the native kernels are not used.")
    info.add_argument("file", metavar="FILE", nargs="?")
    info.add_argument("--runtime", action="store_true", help="print which kernels run, instead of describing FILE")
    info.set_defaults(handler=_run_info)
    return parser


def _run_convert(args):
    from rnnlab.convert import convert_file

    options = {}
    if args.opset is not None:
        options["opset"] = args.opset
    if args.nonlinearity is not None:
        options["nonlinearity"] = args.nonlinearity
    if args.return_sequences:
        options["return_sequences"] = True
    try:
        convert_file(args.input, args.output, **options)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (the loaders raise ValueError)
        return _report("convert", exc)
    print(f"wrote {args.output}")
    return 0


def _run_info(args):
    if args.runtime:
        if args.file is not None:
            print("rnnlab info: error: give FILE or --runtime, not both", file=sys.stderr)
            return 2
        from rnnlab.kernels.native import runtime_info

        for key, value in runtime_info().items():
            print(f"{key}: {value}")
        return 0
    if args.file is None:
        print("rnnlab info: error: give FILE, or --runtime", file=sys.stderr)
        return 2
    from rnnlab.convert import describe_file

    try:
        text = describe_file(args.file)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback (the loaders raise ValueError)
        return _report("info", exc)
    print(text)
    return 0


def _report(command, exc):
    """Print one line for a failed command and return exit status 1."""
    known = isinstance(exc, (ValueError, TypeError, ImportError))
    message = " ".join(str(exc).split()) if known else f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    print(f"rnnlab {command}: error: {message}", file=sys.stderr)
    return 1


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
