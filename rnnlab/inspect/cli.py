"""``rnnlab inspect``: write the HTML report of a model's recurrent layers.

    rnnlab inspect MODEL_FILE --input X.npy --out report.html
    rnnlab inspect --demo --out report.html

``MODEL_FILE`` is a saved model (``.keras``, read with ``rnnlab.models.load_model``); ``X.npy`` its input, a NumPy
array of shape ``(batch, T, ...)`` (a single sequence ``(T, ...)`` is taken as a batch of one).  ``--demo`` uses
the built-in demo model (:mod:`rnnlab.inspect.demo`) and its input.

:func:`main` returns the exit status: 0 when the report was written, 1 on an error (the message names the file or
argument), 2 on a usage error.  :func:`configure_parser` and :func:`run` let the ``rnnlab`` command mount it as a
subcommand.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np


class MissingFileError(FileNotFoundError, ValueError):
    """A file named on the command line (or to :func:`load_input`) does not exist."""


def _require_file(path, what):
    if not os.path.exists(path):
        raise MissingFileError(f"{what} {path!r} does not exist.")
    if not os.path.isfile(path):
        raise ValueError(f"{what} {path!r} is not a file.")


def load_input(path, what="Input file"):
    """Read a model input from ``.npy`` (one array) or ``.npz`` (the array named ``x``, or its only array)."""
    _require_file(path, what)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{what} {path!r} is not a NumPy .npy/.npz file ({exc}).") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            names = list(data.files)
            if "x" in names:
                return data["x"]
            if len(names) == 1:
                return data[names[0]]
        raise ValueError(f"{what} {path!r} holds arrays {names}; name the input 'x' or keep only one array.")
    return data


def load_model_file(path):
    """Load a saved model with ``rnnlab.models.load_model``."""
    _require_file(path, "Model file")
    import rnnlab.models

    load_model = getattr(rnnlab.models, "load_model", None)
    if load_model is None:
        raise ValueError(f"Cannot read model file {path!r}: this rnnlab has no rnnlab.models.load_model. "
                         "Use --demo, or call rnnlab.inspect.write_report(path, model, x) from Python.")
    return load_model(path)


def _fit_input(model, x):
    """Add the batch axis to a single sequence."""
    inputs = getattr(model, "inputs", None)
    if inputs and len(inputs) == 1 and np.ndim(x) == len(inputs[0].shape) - 1:
        return np.asarray(x)[None]
    return x


def configure_parser(parser):
    """Add the ``inspect`` arguments to ``parser``."""
    parser.add_argument("model_file", nargs="?", metavar="MODEL_FILE",
                        help="saved model (.keras) to inspect; leave out with --demo")
    parser.add_argument("--input", metavar="X.npy", help="model input: a .npy array (batch, T, features), or .npz")
    parser.add_argument("--mask", metavar="MASK.npy", help="optional (batch, T) boolean mask, .npy")
    parser.add_argument("--out", metavar="REPORT.html", default="report.html",
                        help="where to write the HTML report (default: report.html)")
    parser.add_argument("--demo", action="store_true", help="inspect the built-in demo model")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo model's weights and input (default 0)")
    parser.add_argument("--sample", type=int, default=0, help="batch row the explanation and plots show (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="leave the plots out (no matplotlib needed)")
    return parser


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnlab inspect",
        description="Write one self-contained HTML report of what a model's recurrent layers compute: the model "
        "summary, o, h and c with this model's values, gate statistics and plots.",
    )
    return configure_parser(parser)


def run(args, parser=None):
    """Run parsed arguments; returns the exit status."""
    def usage(message):
        if parser is not None:
            parser.print_usage(sys.stderr)
        print(f"rnnlab inspect: error: {message}", file=sys.stderr)
        return 2

    if args.demo and args.model_file:
        return usage("give either MODEL_FILE or --demo, not both")
    if not args.demo and not args.model_file:
        return usage("give a MODEL_FILE (with --input X.npy), or --demo")
    if args.model_file and not args.input:
        return usage("MODEL_FILE needs --input X.npy")
    try:
        from rnnlab.inspect.report import write_report

        if args.demo:
            from rnnlab.inspect.demo import demo_model

            model, x = demo_model(args.seed)
            source = f"built-in demo model (seed {args.seed})"
        else:
            model = load_model_file(args.model_file)
            source = f"model file {args.model_file}"
        if args.input:
            x = load_input(args.input)
            source += f", input {args.input}"
        x = _fit_input(model, x)
        mask = None
        if args.mask:
            mask = load_input(args.mask, "Mask file")
        write_report(args.out, model, x, mask, sample=args.sample, source=source, plots=not args.no_plots)
    except ImportError as exc:
        print(f"rnnlab inspect: error: {exc} Or pass --no-plots.", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as exc:
        print(f"rnnlab inspect: error: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {args.out}")
    return 0


def main(argv=None):
    """``rnnlab inspect`` with ``argv`` (default ``sys.argv[1:]``, without the word ``inspect``); returns the exit
    status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
