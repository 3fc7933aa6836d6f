"""``memgpt run --model-endpoint URL`` on a resumed agent is for that run only, as documented."""

from __future__ import annotations

from pathlib import Path

from memgpt.testing.fake_llm import FakeLLMServer

from test_agent_cli import NAME, cli, run_args, say, stored  # noqa: F401 - cli is a fixture


def test_run_flags_do_not_rewrite_a_resumed_agents_endpoint(agent_home: Path, srv: FakeLLMServer, cli) -> None:  # noqa: ANN001, F811
    srv.queue(say("Hello from the first endpoint."))
    code, out, err = cli(*run_args(srv), stdin="hi\n/exit\n")
    assert code == 0, out + err
    other = FakeLLMServer()
    other.start()
    try:
        other.queue(say("Hello from the other endpoint."))
        code, out, err = cli(*run_args(other), stdin="hi again\n/exit\n")
        assert code == 0, out + err
        assert "Hello from the other endpoint." in out
    finally:
        other.stop()
    s = stored()
    try:
        assert s.state.llm_config["endpoint"] == srv.base_url
    finally:
        s.close()
    srv.queue(say("Back on the first one."))
    code, out, err = cli("run", "--agent", NAME, "-y", stdin="and now?\n/exit\n")
    assert code == 0 and "Back on the first one." in out, out + err
