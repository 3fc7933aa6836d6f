"""``memgpt run``: pick or create an agent, then chat."""

from __future__ import annotations

import argparse
import sys

from memgpt.config import load_settings
from memgpt.errors import ConfigError
from memgpt.runtime import Runtime


def _chooser(interactive: bool):  # noqa: ANN202
    def choose(title: str, options: list[str]) -> str | None:
        if not interactive:
            raise ConfigError(f"{title.lower()}: no terminal to choose on", "name it in the command")
        import questionary

        return questionary.select(title, choices=options).ask()
    return choose


def run(args: argparse.Namespace) -> int:
    from memgpt.agent.factory import agent_store, create_agent, open_agent
    from memgpt.cli.repl import Output, Session, piped_reader, run_repl

    interactive = sys.stdin.isatty() and not args.yes
    out = Output(debug=args.debug)
    rt = Runtime(load_settings())
    try:
        store = agent_store(rt)
        state = store.find(rt.user.id, args.agent) if args.agent else None
        if state is None and not args.agent and interactive:
            existing = [a.name for a in store.list(rt.user.id)]
            if existing:
                import questionary

                if questionary.confirm("Would you like to select an existing agent?", default=False).ask():
                    state = store.find(rt.user.id, questionary.select("Select agent:", choices=existing).ask())
        # A resumed agent runs on the model it was created with unless a flag says otherwise.
        saved = state.llm_config if state is not None else {}
        model = args.model or saved.get("model")
        llm = rt.llm(model=model, endpoint=args.model_endpoint or saved.get("endpoint"),
                     provider=args.model_endpoint_type or saved.get("provider"),
                     context_window=args.context_window
                     or (saved.get("context_window") if model == saved.get("model") else None),
                     wrapper=args.model_wrapper,
                     timeout=args.llm_timeout, on_wait=out.waiting)
        if not args.no_verify and hasattr(llm, "verify"):
            llm.verify()
        if state is not None:
            state.llm_config.update(model=llm.model, context_window=llm.context_window,
                                    endpoint=getattr(llm, "base_url", saved.get("endpoint")),
                                    provider=args.model_endpoint_type or saved.get("provider"))
        new = state is None
        if new:
            out.info("🧬 Creating new agent...")
            state = create_agent(rt, args.agent, persona=args.persona, human=args.human, preset=args.preset, llm=llm)
            if args.model_endpoint_type:
                state.llm_config["provider"] = args.model_endpoint_type
            out.info(f"->  🤖 Using persona profile: '{state.persona}'")
            out.info(f"->  🧑 Using human profile: '{state.human}'")
            out.info(f"🎉 Created new agent '{state.name}' (id={state.id})")
        else:
            if args.persona or args.human or args.preset:
                out.warn("--persona/--human/--preset apply to new agents; resuming with the agent's own memory")
            out.info(f"🔁 Resuming agent '{state.name}' ({len(state.in_context)} messages in context)")
        agent = open_agent(rt, state, llm, on_event=out.event)
        fixed = agent.budget.text(state.system_prompt) + agent.budget.tools(agent.tools.schemas())
        if fixed >= agent.budget.limit:
            out.warn(f"the context window ({agent.budget.context_window} tokens) leaves no room for messages: the "
                     f"system prompt and functions alone take {fixed}. Use a model with a larger window, or set it "
                     "with --context-window if the model's real window is larger")
        session = Session(rt=rt, agent=agent, out=out, interactive=interactive, choose=_chooser(interactive),
                          read=input if sys.stdin.isatty() else piped_reader())
        if new and not args.first:
            from memgpt.errors import LLMError

            try:
                agent.greet()
            except LLMError as exc:
                out.error(f"{exc.one_line()} — the agent is saved; fix the endpoint and run again")
                return exc.exit_code
        return run_repl(session)
    finally:
        rt.close()
