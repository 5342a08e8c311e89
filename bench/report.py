"""The Markdown table of the timings."""

from __future__ import annotations

from collections.abc import Sequence

from bench.runner import Timing


def render_table(timings: Sequence[Timing], baseline: str) -> str:
    """Rows are scenarios, columns µs/request per engine then ``baseline / other``.

    Engines and scenarios appear in the order they were measured, so adding
    an engine to :data:`bench.engines.ENGINES` adds its columns here.
    """
    engines = list(dict.fromkeys(timing.engine for timing in timings))
    scenarios = list(dict.fromkeys(timing.scenario for timing in timings))
    best = {(timing.engine, timing.scenario): timing.best for timing in timings}
    others = [engine for engine in engines if engine != baseline]
    ratios = others if baseline in engines else []

    header = ["scenario", *engines, *(f"{baseline} / {other}" for other in ratios)]
    align = [":--", *(["--:"] * (len(header) - 1))]
    lines = [_row(header), _row(align)]
    for scenario in scenarios:
        cells = [scenario]
        cells += [_number(best.get((engine, scenario)), 1) for engine in engines]
        ours = best.get((baseline, scenario))
        for other in ratios:
            theirs = best.get((other, scenario))
            ratio = None if ours is None or not theirs else ours / theirs
            cells.append(_number(ratio, 2))
        lines.append(_row(cells))
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _number(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"
