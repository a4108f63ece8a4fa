"""bench.replay runs the live replay: every filled cell of its file becomes one stored sample (what it prints means)."""

import pandas as pd

from bench.replay import POLLUTANTS, run_replay, write_file


def test_every_filled_cell_of_the_wide_file_is_one_stored_sample_and_none_is_refused(tmp_path, redis_url):
    path = tmp_path / "wide.csv"
    write_file(path, 2_000)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    filled = int((frame[list(POLLUTANTS)] != "NA").to_numpy().sum())
    # Chunks and batches that do not divide the file; the test's own Redis database.
    result = run_replay(path, 2_000, chunk=700, batch=300, redis_url=redis_url)
    assert (result["samples"], result["stored"], result["refused"], result["in_redis"]) == (filled, filled, 0, filled)
    assert 0.9 * 4 * 2_000 < filled < 4 * 2_000  # about 5% NA
