"""Replay adapter: samples from a CSV or Parquet export, paced at a speed factor, resumable."""
