"""The style search that refines a clone at enrollment (worker/tts/cloning/style_search.py): its
mechanics on a known objective, without the models — elitism, the step-size rule, the
wall-clock budget that keeps enrollment within its time limit."""

from __future__ import annotations

import numpy as np

from worker.tts.cloning.style_search import SearchConfig, refine_style, style_basis


def bank(n: int = 12, seed: int = 1) -> np.ndarray:
    """Stock-like style tables: (voices, 510, 256) around a shared mean."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((1, 510, 256)) + 0.5 * rng.standard_normal((n, 510, 256))).astype(np.float32)


def test_the_search_climbs_towards_a_hidden_target_and_never_returns_worse_than_its_start() -> None:
    styles = bank()
    basis = style_basis(styles, components=8)
    target = basis.decode(np.full(8, 0.8, np.float32), basis.encode(styles[0])[1])

    def score(style: np.ndarray) -> float:
        return -float(np.mean((style - target) ** 2))

    start = styles[0]
    result = refine_style(start, score(start), basis, score, SearchConfig(budget_s=1e9, max_evaluations=40,
                                                                         components=8, seed=3))
    assert result.evaluations == 40
    assert result.score > result.start_score and result.gain > 0
    assert result.history == sorted(result.history)  # elitist: the best so far never drops
    assert np.isclose(score(result.style), result.score)


def test_the_search_stops_before_an_evaluation_would_overrun_its_budget() -> None:
    styles = bank()
    basis = style_basis(styles, components=8)
    now = [0.0]

    def clock() -> float:
        return now[0]

    def slow_score(style: np.ndarray) -> float:
        now[0] += 10.0  # each evaluation takes 10 s of the budget
        return float(style.mean())

    result = refine_style(styles[0], slow_score(styles[0]), basis, slow_score,
                          SearchConfig(budget_s=35.0, max_evaluations=40, components=8), clock=clock)
    # started at 10 s: evaluations end at 20, 30, 40 s; a fourth (50 s) would pass 35 + the slowest (10)
    assert result.evaluations == 3 and result.seconds <= 35.0
    no_time = refine_style(styles[0], 0.0, basis, slow_score, SearchConfig(budget_s=0.0, components=8), clock=clock)
    assert no_time.evaluations == 0 and no_time.gain == 0
