"""python -m memgpt.testing.fake_llm --port 8000"""

from __future__ import annotations

import argparse
import json
import sys
import time

from memgpt.testing.fake_llm.server import FakeLLMServer

# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m memgpt.testing.fake_llm",
        description="A scripted OpenAI-compatible server (chat, embeddings) for tests and keyless demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    parser.add_argument("--model", default="fake-llm", help="chat model name to advertise")
    parser.add_argument("--embedding-model", default="fake-embedding")
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: accept any)")
    parser.add_argument("--script", default=None, help="JSON file: a list of reply specs to queue")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    server = FakeLLMServer(
        args.host,
        args.port,
        model=args.model,
        embedding_model=args.embedding_model,
        embedding_dim=args.embedding_dim,
        api_key=args.api_key,
        verbose=args.verbose,
    )
    if args.script:
        try:
            with open(args.script, encoding="utf-8") as f:
                server.load_script(json.load(f))
        except (OSError, ValueError) as exc:
            print(f"error: cannot load script {args.script}: {exc}", file=sys.stderr)
            return 2
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(
        f"fake LLM listening on {server.base_url} (model {args.model!r}, "
        f"embeddings {args.embedding_model!r} dim {args.embedding_dim}); "
        f"{server.pending()} scripted replies, then the demo responder. Ctrl-C stops.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
