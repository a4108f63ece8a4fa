"""bench.replay's file and mapping: every filled cell becomes one checked sample (the numbers it prints mean that)."""

import pandas as pd

from bench.replay import POLLUTANTS, run_mapping, write_file


def test_every_filled_cell_of_the_wide_file_is_one_sample_and_none_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    write_file(path, 2_000)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    filled = int((frame[list(POLLUTANTS)] != "NA").to_numpy().sum())
    result = run_mapping(path, 2_000, chunk=700, batch=300)  # chunks and batches that do not divide the file
    assert (result["samples"], result["refused"]) == (filled, 0)
    assert 0.9 * 4 * 2_000 < filled < 4 * 2_000  # about 5% NA
