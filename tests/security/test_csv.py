"""Finding 10: an exported cell never starts like a spreadsheet formula."""

from __future__ import annotations

import pandas as pd

from dashboard.warning_board import csv_safe


def test_cells_that_start_like_formulas_are_neutralised_and_numbers_are_not():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "河道水位"],
                          "value": [-3.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    out = csv_safe(frame)
    assert out["name"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tcmd", "'\rcmd",
                                    "河道水位"]
    assert out["value"].tolist() == frame["value"].tolist()  # a negative number stays a number
    text = out.to_csv(index=False)
    assert not any(line.startswith(("=", "+", "-", "@")) for line in text.splitlines())
