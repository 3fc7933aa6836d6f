"""What a name or a persona/human text may be, checked where it enters (CLI, a server, the library).

Names are stored as typed and shown in tables and pickers, so a newline, a control character or
a 10,000-character name would break every listing; a persona or human text goes into every
prompt, so an oversized one would cost its tokens on every request.
"""

from __future__ import annotations

import unicodedata

from memgpt.errors import ConfigError

MAX_NAME_CHARS = 200
MAX_TEMPLATE_CHARS = 20_000


def check_name(kind: str, name: str) -> str:
    """``name`` if it can name a ``kind`` (agent, source, persona, human); a one-line error otherwise."""
    if not name or not name.strip():
        raise ConfigError(f"the {kind} name is empty", f"give the {kind} a name with at least one visible character")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        raise ConfigError(f"the {kind} name {name!r} contains a line break or control character",
                          "use a name on one line")
    if len(name) > MAX_NAME_CHARS:
        raise ConfigError(f"the {kind} name is {len(name):,} characters long (at most {MAX_NAME_CHARS})",
                          "use a shorter name")
    if name != name.strip():
        raise ConfigError(f"the {kind} name {name!r} starts or ends with spaces", f"use {name.strip()!r}")
    return name


def check_template_text(kind: str, name: str, text: str) -> str:
    """A persona or human text: not empty, and small enough to send in every prompt."""
    if not text.strip():
        raise ConfigError(f"the {kind} text of {name!r} is empty")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise ConfigError(f"the {kind} text of {name!r} is {len(text):,} characters (at most {MAX_TEMPLATE_CHARS:,}, "
                          "since it is sent with every message)",
                          "shorten it, and keep long material in a source: memgpt load directory")
    return text
