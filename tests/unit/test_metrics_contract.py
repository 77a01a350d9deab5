"""docs/metrics.md (and alerting.md's metrics) name exactly what examnet exports.

Dashboards and Prometheus rules are written against those pages
(deploy/grafana/, deploy/prometheus/): a metric renamed in the code but not
in the docs, or documented but gone, must fail here before a NOC finds an
empty panel.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.alerting import Alerting
from monitor.evaluation import Evaluator
from monitor.metrics import Metrics
from monitor.model.clock import FakeClock
from monitor.storage import Store
from tests.fixtures.inventories import WITH_DEVICES, inventory_from
from tests.unit.test_metrics import NOW, _view

REPO = Path(__file__).resolve().parents[2]
CONTRACT = (REPO / "docs" / "metrics.md", REPO / "docs" / "alerting.md")
_ROW = re.compile(r"^\| `(examnet_[a-z0-9_]+)", re.M)


def documented() -> set[str]:
    """Metric names in the first column of the docs' metric tables."""
    return {name for page in CONTRACT for name in _ROW.findall(page.read_text(encoding="utf-8"))}


def exported(tmp_path: Path) -> set[str]:
    """Every family examnet's registry exposes (as `# TYPE`), alerting's included."""
    inventory = inventory_from(WITH_DEVICES, tmp_path)
    metrics = Metrics(view=lambda: _view(inventory, []))
    store = Store(f"sqlite:///{tmp_path / 'examnet.db'}")
    store.upgrade()
    try:
        Alerting(inventory, store, Evaluator(inventory, {}, []), FakeClock(NOW),
                 registry=metrics.registry)
        text = metrics.exposition().decode()
    finally:
        store.close()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    # prometheus_client's creation timestamps of unlabelled counters are not ours
    return {n for n in names if not n.endswith("_created")}


def test_it_documents_every_metric_examnet_exports(tmp_path: Path) -> None:
    assert exported(tmp_path) - documented() == set()


def test_it_documents_no_metric_examnet_does_not_export(tmp_path: Path) -> None:
    assert documented() - exported(tmp_path) == set()
