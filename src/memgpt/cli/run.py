"""``memgpt run``: pick or create an agent, then chat (the service does the work; this file asks and prints)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from memgpt.errors import ConfigError, LLMError


def _chooser(interactive: bool):  # noqa: ANN202
    def choose(title: str, options: list[str]) -> str | None:
        if not interactive:
            raise ConfigError(f"{title.lower()}: no terminal to choose on", "name it in the command")
        import questionary

        return questionary.select(title, choices=options).ask()
    return choose


def _terminal(svc, chat, out) -> Callable[[str], str]:  # noqa: ANN001 - Service, AgentSession, Output
    """Line editing, history and completion for the prompt; a spinner while the LLM works."""
    from memgpt.cli.slash import COMMANDS
    from memgpt.cli.terminal import Spinner, SpinningLLM, TerminalReader

    def sources() -> list[str]:
        return [s.name for s in svc.list_sources()]

    out.spinner = Spinner(out.stream)
    chat.agent.llm = SpinningLLM(chat.agent.llm, out.spinner)
    return TerminalReader(svc.rt.settings.home / "history", {c.name: c.help for c in COMMANDS.values()}, sources)


def run(args: argparse.Namespace) -> int:
    from memgpt.cli.repl import Output, Session, piped_reader, run_repl
    from memgpt.service import Service

    interactive = sys.stdin.isatty() and not args.yes
    out = Output(debug=args.debug, strip_ui=args.strip_ui)
    if args.stream:
        out.info("note: --stream is accepted for pymemgpt compatibility; replies are shown whole")
    if args.core_memory_limit is not None and args.core_memory_limit <= 0:
        raise ConfigError(f"--core-memory-limit must be a positive number of characters, got {args.core_memory_limit}")
    svc = Service.local()
    try:
        ref = args.agent
        if not ref and interactive:
            existing = [a.name for a in svc.list_agents()]
            if existing:
                import questionary

                if questionary.confirm("Would you like to select an existing agent?", default=False).ask():
                    ref = questionary.select("Select agent:", choices=existing).ask()
        llm_flags = dict(model=args.model, endpoint=args.model_endpoint, provider=args.model_endpoint_type,
                         context_window=args.context_window, wrapper=args.model_wrapper, timeout=args.llm_timeout)
        new = not (ref and svc.agent_exists(ref))
        if new:
            if not args.no_verify:
                svc.check_llm(**llm_flags)  # before creating anything: a wrong endpoint leaves no agent behind
            out.info("🧬 Creating new agent...")
            info = svc.create_agent(ref, persona=args.persona, human=args.human, preset=args.preset,
                                    block_limit=args.core_memory_limit, **llm_flags)
            out.info(f"->  🤖 Using persona profile: '{info.persona}'")
            out.info(f"->  🧑 Using human profile: '{info.human}'")
            out.info(f"🎉 Created new agent '{info.name}' (id={info.id})")
            ref = info.id
        elif args.persona or args.human or args.preset or args.core_memory_limit:
            out.warn("--persona/--human/--preset/--core-memory-limit apply to new agents; "
                     "resuming with the agent's own memory")
        chat = svc.open(ref, on_event=out.event, verify=not args.no_verify and not new, **llm_flags)
        try:
            if not new:
                out.info(f"🔁 Resuming agent '{chat.name}' ({len(chat.agent.messages)} messages in context)")
            warning = chat.context_warning()
            if warning:
                out.warn(warning)
            read = input if sys.stdin.isatty() else piped_reader()
            if sys.stdin.isatty() and sys.stdout.isatty():
                read = _terminal(svc, chat, out)
            session = Session(rt=svc.rt, agent=chat, out=out, interactive=interactive, choose=_chooser(interactive),
                              read=read)
            pending = not new and chat.has_unanswered_message()
            if pending:
                out.info("↩ your last message was not answered (the previous run stopped); answering it now")
            if pending or (new and not args.first):
                try:
                    chat.answer_unanswered() if pending else chat.greet()
                except LLMError as exc:
                    out.error(f"{exc.one_line()} — the agent is saved; fix the endpoint and run again")
                    return exc.exit_code
            return run_repl(session)
        finally:
            chat.close()
    finally:
        svc.close()
