"""Compiled formulas give simpleeval's values bit for bit; what they do not cover is left to simpleeval."""

import ast

import numpy as np
import pytest
from simpleeval import SimpleEval

from cityvitals.config import DEFAULT_CATALOG
from indicators.compiled import compile_catalog
from indicators.formula import FUNCTIONS, OPERATORS, compile_formula
from indicators.loader import load_catalog

HAND_WRITTEN = ["-a + +b", "div(a, b) - min(a, 3) * max(b, -2.5)", "abs(a - b) / (a + 1)", "a / 0", "2 * 3 - a",
                "max(min(a, b), div(b, a))"]


def _series(names: set[str], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(names):
        x = rng.normal(10, 20, 400)
        x[rng.random(400) < 0.1], x[rng.random(400) < 0.1] = 0.0, np.nan  # zeros to divide by, missing values
        out[name] = x
    return out


def _both(tree: ast.AST, text: str, names: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    call = compile_formula(tree)
    assert call is not None, text
    evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=names)
    with np.errstate(all="ignore"):
        return (np.asarray(call(names), dtype=float),
                np.asarray(evaluator.eval(text, previously_parsed=tree), dtype=float))


def test_every_formula_of_the_default_catalog_compiles_to_simpleevals_values():
    compiled = compile_catalog(load_catalog([DEFAULT_CATALOG]))
    checked = 0
    for ind in compiled.catalog.indicators:
        s = ind.source
        texts = {"value": s.formula, "num": s.numerator, "den": s.denominator}
        for key, tree in compiled.formulas.parsed[ind.id].items():
            names = _series(compiled.formulas.inputs[ind.id], seed=checked)
            got, want = _both(tree, texts[key], names)
            np.testing.assert_array_equal(got, want, strict=True)
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_operators_functions_and_numbers_compile_to_simpleevals_values(text):
    got, want = _both(ast.parse(text, mode="eval").body, text, _series({"a", "b"}, seed=1))
    np.testing.assert_array_equal(got, want, strict=True)


@pytest.mark.parametrize("text", ["a ** 2", "a if b else 0", "a > b", "a and b", "sum(a)", "'text'"])
def test_what_is_not_covered_is_left_to_simpleeval(text):
    assert compile_formula(ast.parse(text, mode="eval").body) is None
