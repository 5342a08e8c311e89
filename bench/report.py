"""The Markdown tables of the timings, and the issue's targets checked against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.runner import Timing

# Time ratio ours / theirs each database scenario must stay within.
TARGETS: Mapping[str, float] = {"read": 0.8, "write": 1.0, "new": 1.0}


def render_table(
    timings: Sequence[Timing],
    baseline: str | None = None,
    *,
    pairs: Sequence[tuple[str, str]] = (),
    cpu: bool = False,
) -> str:
    """Rows are scenarios, columns µs/request per engine then ratios.

    The ratio columns are ``baseline / other`` for every other engine, plus
    ``ours / theirs`` for each of ``pairs`` whose two engines were measured.
    Engines and scenarios appear in the order they were measured, so adding
    an engine to :data:`bench.engines.ENGINES` adds its columns here. With
    ``cpu``, the numbers are CPU time rather than wall time.
    """
    engines = list(dict.fromkeys(timing.engine for timing in timings))
    scenarios = list(dict.fromkeys(timing.scenario for timing in timings))
    best = _best(timings, cpu=cpu)
    ratios = _ratios(engines, baseline, pairs)

    header = ["scenario", *engines, *(f"{ours} / {theirs}" for ours, theirs in ratios)]
    align = [":--", *(["--:"] * (len(header) - 1))]
    lines = [_row(header), _row(align)]
    for scenario in scenarios:
        cells = [scenario]
        cells += [_number(best.get((engine, scenario)), 1) for engine in engines]
        cells += [
            _number(_ratio(best, ours, theirs, scenario), 2) for ours, theirs in ratios
        ]
        lines.append(_row(cells))
    return "\n".join(lines)


def render_targets(
    timings: Sequence[Timing],
    pairs: Sequence[tuple[str, str]],
    targets: Mapping[str, float] = TARGETS,
) -> tuple[str, bool]:
    """One line per (pair, scenario): the ratio against its target, met or not.

    Returns the text and whether every measured target was met.
    """
    engines = {timing.engine for timing in timings}
    best = _best(timings)
    lines: list[str] = []
    all_met = True
    for ours, theirs in _ratios(list(engines), None, pairs):
        for scenario, target in targets.items():
            ratio = _ratio(best, ours, theirs, scenario)
            if ratio is None:
                continue
            met = ratio <= target
            all_met = all_met and met
            verdict = "met" if met else "NOT MET"
            lines.append(
                f"- {ours} / {theirs}, {scenario}: {ratio:.2f} "
                f"(target <= {target:.1f}) {verdict}"
            )
    return "\n".join(lines), all_met


def _best(
    timings: Sequence[Timing], *, cpu: bool = False
) -> dict[tuple[str, str], float]:
    return {
        (timing.engine, timing.scenario): timing.best_cpu if cpu else timing.best
        for timing in timings
    }


def _ratios(
    engines: Sequence[str], baseline: str | None, pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    ratios: list[tuple[str, str]] = []
    if baseline is not None and baseline in engines:
        ratios += [(baseline, other) for other in engines if other != baseline]
    ratios += [pair for pair in pairs if pair[0] in engines and pair[1] in engines]
    return ratios


def _ratio(
    best: Mapping[tuple[str, str], float], ours: str, theirs: str, scenario: str
) -> float | None:
    mine = best.get((ours, scenario))
    other = best.get((theirs, scenario))
    return None if mine is None or not other else mine / other


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _number(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"
