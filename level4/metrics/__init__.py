"""Prometheus metrics of the running service (`GET /metrics`).

Nothing here sits on the per-frame path: the counters are the ones the
market actors keep anyway (the status board, each market's publisher, each
sink's state), read when Prometheus scrapes; the one figure recorded for
the purpose, receipt-to-publish latency, is taken once per batch.
"""
