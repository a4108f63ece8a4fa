"""Feeds that pull an HTTP JSON API on a schedule: a base and example adapters."""
