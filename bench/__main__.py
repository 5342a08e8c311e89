"""``python -m bench``: time the session engines and print a Markdown table."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence

import django

from bench.engines import ENGINES, OURS
from bench.report import render_table
from bench.runner import measure, profile
from bench.scenarios import SCENARIOS


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--profile``, profile one scenario of ours)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("-n", type=_positive, default=3000, help="requests per repeat")
    parser.add_argument("--repeats", type=_positive, default=5, help="take the best of")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="instead of timing, cProfile ours in this scenario (top 15, cumulative)",
    )
    args = parser.parse_args(argv)

    # Always these settings: a DJANGO_SETTINGS_MODULE left in the shell
    # (tests.settings, say) would add middleware and apps we do not measure.
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    if args.profile is not None:
        chosen = [s for s in SCENARIOS if s.name == args.profile]
        if not chosen:
            parser.error(
                f"--profile takes one of {', '.join(s.name for s in SCENARIOS)}"
            )
        print(profile(OURS, chosen[0], n=args.n))
        return 0

    print(f"Python {platform.python_version()}, Django {django.get_version()}")
    print()
    timings = measure(
        ENGINES,
        SCENARIOS,
        n=args.n,
        repeats=args.repeats,
        warmup=max(args.n // 10, 100),
    )
    print(
        f"µs per request, best of {args.repeats} repeats of {args.n} requests; "
        "each request is built with RequestFactory inside the timed loop "
        "(the same for every engine); repeats alternate between engines."
    )
    print()
    print(render_table(timings, baseline=OURS.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
