"""``memgpt doctor``: compare SQL with Milvus for every source and agent, and repair differences.

SQL is the record of what was loaded (documents, passage ids, agents); Milvus holds the passages
themselves. They can disagree after a process was killed mid-load, a disk filled up, or an older
version lost rows. Each finding says what differs and what repairing it does; ``repair`` only
ever removes rows that no complete record stands behind (the next load of the file restores it)
and never touches a load that is still running.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from memgpt.ingest.pipeline import claim_is_dead
from memgpt.runtime import Runtime
from memgpt.store.metadata import LOADED


@dataclass
class Finding:
    subject: str  # "source 'docs'" or "agent 'sam'"
    problem: str
    repair: str  # what --repair does (or why it does not)
    repaired: bool = False
    repairable: bool = True

    def line(self) -> str:
        state = "repaired" if self.repaired else ("to repair: " + self.repair if self.repairable else self.repair)
        return f"{self.subject}: {self.problem} ({state})"


def check(rt: Runtime, repair: bool = False) -> list[Finding]:
    """Every difference between SQL and Milvus for the user's sources and agents."""
    from memgpt.store.agents import AgentStore

    user = rt.user.id
    meta = rt.metadata
    store = AgentStore(meta.engine)
    sources = [s.source for s in meta.list_sources(user, include_empty=True)]
    agents = store.list(user)
    findings: list[Finding] = []
    models = {(s.embedding_model, s.embedding_dim) for s in sources} | {(a.embedding_model, a.embedding_dim)
                                                                        for a in agents}
    known_sources = {s.id for s in sources}
    known_agents = {a.id for a in agents}
    milvus: dict[str, dict[str, str]] = defaultdict(dict)  # source id -> passage id -> document id
    for model, dim in sorted(models):
        archival = rt.archival(model, dim)
        orphans = []
        for row in archival.scan_user(user):
            if row["source_id"] and row["source_id"] in known_sources:
                milvus[row["source_id"]][row["id"]] = row["document_id"]
            elif row["agent_id"] and row["agent_id"] in known_agents:
                continue
            else:
                orphans.append(row["id"])
        if orphans:
            f = Finding(f"archival collection {archival.collection}",
                        f"{len(orphans)} passages belong to no source or agent in SQL", "delete them from Milvus")
            if repair:
                archival.delete_ids(orphans)
                f.repaired = True
            findings.append(f)
    for source in sources:
        findings += _check_source(rt, source, milvus.get(source.id, {}), repair)
    for agent in agents:
        findings += _check_agent(store, agent, repair)
    return findings


def _check_source(rt: Runtime, source, in_milvus: dict[str, str], repair: bool) -> list[Finding]:  # noqa: ANN001
    meta = rt.metadata
    archival = rt.archival(source.embedding_model, source.embedding_dim)
    subject = f"source {source.name!r}"
    docs = meta.documents_of(source.id)
    in_sql = meta.passage_documents(source.id)  # passage id -> document id
    by_doc_sql: dict[str, set[str]] = defaultdict(set)
    by_doc_milvus: dict[str, set[str]] = defaultdict(set)
    for pid, did in in_sql.items():
        by_doc_sql[did].add(pid)
    for pid, did in in_milvus.items():
        by_doc_milvus[did].add(pid)
    out: list[Finding] = []
    to_remove: list[str] = []
    reload_files: set[str] = set()
    for d in docs:
        if d.load_state != LOADED:
            if not claim_is_dead(d.load_state):
                out.append(Finding(subject, f"{d.file_path} is being loaded ({d.load_state})",
                                   "left alone while that process runs", repairable=False))
                continue
            out.append(Finding(subject, f"{d.file_path}: a load was interrupted ({d.load_state}, process gone)",
                               "remove its partial rows; load the file again"))
            to_remove.append(d.id)
            reload_files.add(d.file_path)
        elif by_doc_sql[d.id] != by_doc_milvus[d.id]:
            out.append(Finding(subject, f"{d.file_path}: SQL records {len(by_doc_sql[d.id])} passages, "
                                        f"Milvus holds {len(by_doc_milvus[d.id] & by_doc_sql[d.id])} of them",
                               "remove the file's rows; load it again"))
            to_remove.append(d.id)
            reload_files.add(d.file_path)
    known_docs = {d.id for d in docs}
    stray = [pid for pid, did in in_milvus.items() if did not in known_docs]
    if stray:
        out.append(Finding(subject, f"Milvus holds {len(stray)} passages of documents SQL does not record",
                           "delete them from Milvus"))
    if not docs:
        out.append(Finding(subject, "holds no document (its first load failed or was interrupted)",
                           "delete the empty source"))
    if repair:
        archival.delete_ids(stray)
        archival.delete_documents(rt.user.id, to_remove)
        meta.delete_documents(to_remove)
        if not docs:
            meta.delete_source(source.id)
        for f in out:
            f.repaired = f.repairable
        for path in sorted(reload_files):
            out.append(Finding(subject, f"{path} needs loading again", f"memgpt load directory --name "
                                                                      f"{source.name} --input-files {path}",
                               repairable=False))
    return out


def _check_agent(store, agent, repair: bool) -> list[Finding]:  # noqa: ANN001
    have = {m.id for m in store.messages(agent.in_context)}
    missing = [i for i in agent.in_context if i not in have]
    if not missing:
        return []
    f = Finding(f"agent {agent.name!r}", f"{len(missing)} in-context messages are missing from recall",
                "drop them from the context list")
    if repair:
        agent.in_context = [i for i in agent.in_context if i in have]
        store.save_step(agent)
        f.repaired = True
    return [f]
