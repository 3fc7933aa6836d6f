"""How much of each request a server's prompt cache can reuse: the common prefix of consecutive requests.

llama.cpp, vLLM and OpenAI reuse the computed prefix a request shares with the one before it; whatever
follows the first changed character is computed again. The agent runs a short scripted conversation
(tool calls with heartbeats, several turns) against the fake LLM server over HTTP; each request is
rendered in the order chat templates use (system message, tool schemas, then the messages) and compared
with the request before it.

Prints a table, then one JSON line. Usage: python bench/prompt_cache.py [--turns 6]
Works on any checkout (it uses only the agent, the client and the fake server), so two versions can be
compared by running it from each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memgpt.agent import factory  # noqa: E402
from memgpt.config import Settings  # noqa: E402
from memgpt.llm.openai_client import OpenAICompatibleClient  # noqa: E402
from memgpt.runtime import Runtime  # noqa: E402
from memgpt.testing.fake_llm import FakeLLMServer, FakeReply  # noqa: E402


def rendered(request: dict) -> str:
    system, *rest = request["messages"]
    return json.dumps([system, request.get("tools")] + rest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=6)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeLLMServer() as srv:
        rt = Runtime(Settings(home=Path(tmp)))
        try:
            llm = OpenAICompatibleClient(srv.base_url, None, "bench", 32768)
            agent = factory.open_agent(rt, factory.create_agent(rt, rt.user.id, persona="sam_pov", llm=llm), llm)
            for i in range(args.turns):
                srv.queue(FakeReply.tool_call("conversation_search", {"query": f"topic {i}", "request_heartbeat": True}),
                          FakeReply.tool_call("send_message", {"message": f"Answer {i}."}))
                agent.step(f"Question number {i}?")
        finally:
            rt.close()
        texts = [rendered(dict(r)) for r in srv.chat_requests]
    shares = []
    print(f"{'request':>7} {'chars':>7} {'shared prefix':>14} {'reused':>7}")
    for i in range(1, len(texts)):
        shared = len(os.path.commonprefix([texts[i - 1], texts[i]]))
        shares.append(shared / len(texts[i]))
        print(f"{i + 1:>7} {len(texts[i]):>7} {shared:>14} {shares[-1]:>7.1%}")
    result = {"bench": "prompt_cache", "requests": len(texts), "median_reused": round(statistics.median(shares), 3),
              "min_reused": round(min(shares), 3)}
    print(f"median share of each request reused from the one before: {result['median_reused']:.1%}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
