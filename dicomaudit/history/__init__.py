"""Evidence over time: a results store written by ``probe --store`` and the history read from it.

* :mod:`dicomaudit.history.store`: the store (SQLite by default, any
  SQLAlchemy database URL), one transaction per run, schema versioned.
* :mod:`dicomaudit.history.timeline`: pure; stored runs -> per (node, check)
  episodes (appeared, waived, fixed, still open) and the open findings at
  each run by severity.
* :mod:`dicomaudit.history.report`: the writers (text, JSON, CSV, the HTML
  trend page).

::

    from dicomaudit.history import build_timeline, open_store

    with open_store("audit.db") as store:
        timeline = build_timeline(store.load())
    for episode in timeline.episodes:
        print(episode.node.label, episode.check, episode.appeared, episode.fixed)
"""

from dicomaudit.history.store import SCHEMA_VERSION, ResultStore, StoreError, describe_location, open_store
from dicomaudit.history.timeline import (
    Episode,
    EpisodeState,
    Event,
    EventKind,
    NodeRef,
    RunPoint,
    RunRecord,
    Timeline,
    TrendPoint,
    build_timeline,
)

__all__ = [
    "SCHEMA_VERSION",
    "Episode",
    "EpisodeState",
    "Event",
    "EventKind",
    "NodeRef",
    "ResultStore",
    "RunPoint",
    "RunRecord",
    "StoreError",
    "Timeline",
    "TrendPoint",
    "build_timeline",
    "describe_location",
    "open_store",
]
