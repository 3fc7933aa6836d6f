"""Chinese end to end: load Chinese documents, ask in Chinese, the archival search finds the passage.

The documents are written for these tests (tests/data/zh_*.txt, Simplified and
Traditional). The LLM is the scripted fake server over HTTP; everything else
(the CLI, chunking, the local embedding model, Milvus Lite, SQLite) is real.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from memgpt.cli.main import main
from memgpt.testing.fake_llm import FakeLLMServer, FakeReply

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = [DATA / n for n in ("zh_tea_village.txt", "zh_hant_harbor.txt", "zh_math_notes.txt")]


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *argv: str,
         stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def _say(text: str) -> FakeReply:
    return FakeReply.tool_call("send_message", {"message": text}, content="回答用户。")


# (question the user asks, query the scripted model searches with, text of the passage that answers)
ASKED = [("雾里青要经过哪几道工序？", "雾里青的制作工序", "萎凋、杀青、揉捻和烘焙"),  # Simplified
         ("燈塔是哪一年建的？", "燈塔建於哪一年", "一八九零年")]  # Traditional


def test_ask_in_chinese_and_the_search_finds_the_passage(home: Path, srv: FakeLLMServer,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture) -> None:
    code, out = _cli(monkeypatch, capsys, "load", "directory", "--name", "zh_docs", "--no-progress",
                     "--input-files", *map(str, FILES))
    assert code == 0, out
    assert "Loaded " in out
    assert "mostly Chinese, Japanese or Korean" in out and "memgpt[multilingual]" in out  # the advice, one line

    found: list[list[dict[str, Any]]] = []

    def answer_from_search(request: dict[str, Any]) -> FakeReply:
        result = json.loads(request["messages"][-1]["content"])["message"]
        found.append(json.loads(result.split("\n", 1)[1]))
        return _say("找到了：" + found[-1][0]["content"][:20])

    for _question, query, _expected in ASKED:
        srv.queue(FakeReply.tool_call("archival_memory_search", {"query": query, "request_heartbeat": True},
                                      content="搜索资料。"),
                  FakeReply.respond(answer_from_search))
    stdin = "/attach zh_docs\n" + "".join(q + "\n" for q, _, _ in ASKED) + "/exit\n"
    code, out = _cli(monkeypatch, capsys, "run", "--agent", "xiaoming", "--first", "-y", "--model-endpoint",
                     srv.base_url, "--model", "fake-llm", stdin=stdin)
    assert code == 0, out
    assert len(found) == len(ASKED), out
    for hits, (_q, _query, expected) in zip(found, ASKED):
        assert expected in hits[0]["content"]  # the passage that answers is the first result
    assert out.count("🤖 找到了：") == len(ASKED)


def test_configure_recommends_the_multilingual_model_for_chinese_sources(home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture) -> None:
    code, out = _cli(monkeypatch, capsys, "configure", "-y")
    assert code == 0 and "mostly Chinese" not in out  # nothing loaded yet: no advice
    code, out = _cli(monkeypatch, capsys, "load", "directory", "--name", "zh", "--no-progress",
                     "--input-files", str(FILES[1]))
    assert code == 0, out
    code, out = _cli(monkeypatch, capsys, "configure", "-y")
    assert code == 0 and out.count("memgpt configure -y --embedding-model multilingual-e5-small") == 1
    code, out = _cli(monkeypatch, capsys, "configure", "-y", "--embedding-model", "bge-m3")
    assert code == 2 and "no model 'bge-m3'" in out
    code, out = _cli(monkeypatch, capsys, "configure", "-y", "--embedding-model", "multilingual-e5-small")
    assert code == 0 and "mostly Chinese" not in out
