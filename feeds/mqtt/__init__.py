"""MQTT adapter: samples from topics ``<prefix>/<area>/<metric>`` into the ingest path."""
