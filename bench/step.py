"""Framework time per agent step, without the LLM's latency or embedding.

The agent runs on real stores (SQLite recall with 1,000 messages, Milvus Lite
archival with 10,000 passages of 384-d vectors) and the real loop, token
counting and persistence. The LLM is an in-process client that answers at
once with a scripted reply, and embeddings come from a hash (both excluded by
design: this measures what memgpt adds around them).

Prints a table (p50/p99 per kind of step), then one JSON line.
Usage: python bench/step.py [--steps 200] [--messages 1000] [--passages 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memgpt.config import Settings  # noqa: E402
from memgpt.embeddings.base import EmbeddingModel  # noqa: E402
from memgpt.llm.base import ChatRequest, ChatResponse  # noqa: E402
from memgpt.schemas import Message, Passage, ToolCall, new_id  # noqa: E402


class HashEmbedder(EmbeddingModel):
    """Instant vectors (so embedding cost is excluded); same ids as the local model."""

    model_id = "local/all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256

    def embed_batch(self, texts):  # noqa: ANN001, ANN201
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


class InstantLLM:
    """Answers each request at once: a tool call for the first request of a turn, then send_message."""

    model = "instant"
    context_window = 16384

    def __init__(self) -> None:
        self.plan: list[ChatResponse] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self.plan.pop(0)


def call(name: str, args: dict) -> ChatResponse:
    return ChatResponse(content="thinking briefly", tool_calls=[ToolCall(new_id("call"), name, json.dumps(args))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--passages", type=int, default=10_000)
    args = ap.parse_args()

    from memgpt.agent.factory import create_agent, open_agent
    from memgpt.runtime import Runtime

    with tempfile.TemporaryDirectory() as home:
        rt = Runtime(Settings(home=Path(home)))
        rt.__dict__["embedder"] = HashEmbedder()  # the one substitution: no model in the measured path
        llm = InstantLLM()
        state = create_agent(rt, rt.user.id, "bench", llm=llm)
        agent = open_agent(rt, state, llm)

        # 1,000 messages of history in recall (only the newest stay in context).
        words = "memory agent context window archival recall milvus paper question answer summary".split()
        rng = np.random.default_rng(0)
        history = [Message(role="user" if i % 2 == 0 else "assistant",
                           content=" ".join(rng.choice(words, 12))) for i in range(args.messages)]
        agent.store.save_step(state, history)
        agent.memory.index_messages(history)
        agent.messages = history[-20:]
        agent.save()

        # 10,000 archival passages.
        vecs = HashEmbedder().embed_batch([f"p{i}" for i in range(args.passages)])
        passages = [Passage(id=f"passage-b{i}", user_id=state.user_id, agent_id=state.id,
                            text=" ".join(rng.choice(words, 40)), embedding=vecs[i]) for i in range(args.passages)]
        for i in range(0, len(passages), 2000):
            agent.memory.archival.insert(passages[i:i + 2000])
        agent.memory.sources_changed()

        kinds = {
            "reply": lambda: [call("send_message", {"message": "ok"})],
            "archival_search": lambda: [call("archival_memory_search", {"query": "recall window",
                                                                         "request_heartbeat": True}),
                                        call("send_message", {"message": "found it"})],
            "conversation_search": lambda: [call("conversation_search", {"query": "milvus paper",
                                                                          "request_heartbeat": True}),
                                            call("send_message", {"message": "found it"})],
            "core_memory_append": lambda: [call("core_memory_append", {"name": "human", "content": "likes tea",
                                                                        "request_heartbeat": True}),
                                           call("send_message", {"message": "noted"})],
        }
        results = {}
        for kind, plan in kinds.items():
            per_step: list[float] = []
            for i in range(args.steps // len(kinds)):
                llm.plan = plan()
                n_calls = len(llm.plan)
                t0 = time.perf_counter()
                agent.step(f"message {i} about {kind}")
                per_step.append((time.perf_counter() - t0) * 1000 / n_calls)
                if kind == "core_memory_append" and len(state.blocks["human"].value) > 1800:
                    state.blocks["human"].value = "reset"
                if len(agent.messages) > 40:
                    agent.messages = agent.messages[-20:]
                    while agent.messages and agent.messages[0].role == "tool":
                        agent.messages.pop(0)
            per_step.sort()
            results[kind] = {"p50_ms": round(statistics.median(per_step), 2),
                             "p99_ms": round(per_step[min(len(per_step) - 1, int(0.99 * len(per_step)))], 2),
                             "n": len(per_step)}
        recall_n = agent.memory.recall_count()
        archival_n = agent.memory.archival_count()
        rt.close()

    print(f"recall: {recall_n} messages, archival: {archival_n} passages; time per LLM call (inner step)")
    print(f"{'step kind':<22} {'p50 ms':>8} {'p99 ms':>8} {'n':>5}")
    for kind, r in results.items():
        print(f"{kind:<22} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['n']:>5}")
    overall = statistics.median(r["p50_ms"] for r in results.values())
    print(json.dumps({"bench": "step", "recall_messages": recall_n, "archival_passages": archival_n,
                      "p50_ms_median_over_kinds": overall, "target_p50_ms": 10, "results": results}))


if __name__ == "__main__":
    main()
