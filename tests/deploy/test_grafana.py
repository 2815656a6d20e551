"""The Grafana dashboard only charts series narrator actually exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from shared.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "narrator-dashboard.json"


def exported_names() -> set[str]:
    registry = CollectorRegistry()
    Metrics(registry)
    names = {"narrator_queue_depth"}  # collected from Redis at scrape time
    for family in registry.collect():
        names.add(family.name)
        for sample in family.samples:
            names.add(sample.name)
        names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum", "_total"))
    return names


def test_every_dashboard_query_uses_an_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"narrator_[a-z_]+", expr)}
    assert used and used <= exported_names(), used - exported_names()
    assert len(dashboard["panels"]) >= 8 and len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
