"""Prometheus series for the API and the workers, owned by an explicit ``Metrics`` object.

Each process builds one ``Metrics`` and passes it where it is needed. Celery prefork
workers write through prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``),
and the worker's main process serves the merged view.
"""

from __future__ import annotations

import os

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.dispatch import QUEUES

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
RTF_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)
DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class QueueDepthCollector(Collector):
    """Reads each Celery queue's length from Redis at scrape time (no stale gauge)."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("narrator_queue_depth", "Messages waiting in each queue", labels=["queue"])
        if self.broker_url.startswith("redis"):
            client = redis.Redis.from_url(self.broker_url, socket_timeout=2)
            try:
                for queue in QUEUES:
                    family.add_metric([queue], float(client.llen(queue)))
            except redis.RedisError:
                pass  # a scrape reports what it can; /readyz reports the broker
            finally:
                client.close()
        yield family


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry
        self.registry = registry
        self.request_seconds = Histogram(
            "narrator_http_request_duration_seconds", "API request latency", ["method", "route", "status"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.items = Counter("narrator_items_total", "Items finished, by outcome and reason", ["status", "reason"],
                             registry=r)
        self.rtf = Histogram("narrator_synthesis_rtf", "Synthesis real-time factor (compute seconds / audio seconds)",
                             buckets=RTF_BUCKETS, registry=r)
        self.enroll_seconds = Histogram("narrator_enrollment_duration_seconds", "Enrollment job duration",
                                        ["status"], buckets=DURATION_BUCKETS, registry=r)
        self.finetune_seconds = Histogram("narrator_finetune_duration_seconds", "Fine-tune job duration",
                                          ["status"], buckets=DURATION_BUCKETS, registry=r)
        self.cache_hits = Counter("narrator_render_cache_hits_total", "Items served from the render cache",
                                  registry=r)
        self.active = Gauge("narrator_worker_busy", "Tasks running now", ["task"], registry=r,
                            multiprocess_mode="livesum")


def api_metrics(broker_url: str) -> Metrics:
    registry = CollectorRegistry()
    if broker_url:
        registry.register(QueueDepthCollector(broker_url))
    return Metrics(registry)


class ModelDeviceCollector(Collector):
    """``narrator_model_device{model, device} 1``: where each model family of this worker runs,
    fixed at start (worker.devices), so a GPU node rendering on its CPU shows on a dashboard."""

    def __init__(self, devices: dict[str, str]) -> None:
        self.devices = dict(devices)

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("narrator_model_device", "The device each model family runs on (1)",
                                   labels=["model", "device"])
        for model, device in sorted(self.devices.items()):
            family.add_metric([model, device], 1.0)
        yield family


def worker_registry(broker_url: str, devices: dict[str, str] | None = None) -> CollectorRegistry:
    """The registry a worker serves: every process's samples merged, queue depth, and the
    device of each model family."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    registry.register(QueueDepthCollector(broker_url))
    if devices:
        registry.register(ModelDeviceCollector(devices))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
