"""What operators see: structured logs, health checks, the web app's HTTP metrics.

``logs`` and ``health`` are plain library code (no Prometheus); ``http_metrics`` is the one
module here that imports prometheus-client, for the web app. The workers' metrics live in
``workers/metrics.py``: the library reports (callbacks, observers), the workers count.
"""
