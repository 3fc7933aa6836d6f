"""Built-in personas, human profiles and system prompts, plus user-added ones.

Built-in texts ship as package data under ``memgpt/agent/prompts``::

    prompts/personas/<name>.txt   kind "persona"
    prompts/humans/<name>.txt     kind "human"
    prompts/system/<name>.txt     kind "preset" (a system prompt)

Users can add their own personas and humans (``memgpt add persona ...``); those
are stored in the metadata database and shadow a built-in of the same name.
Presets are built-in only.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from memgpt.errors import NotFoundError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from memgpt.runtime import Runtime

KINDS = ("persona", "human", "preset")

_FOLDERS = {"persona": "personas", "human": "humans", "preset": "system"}
_SUFFIX = ".txt"

BUILTIN = "built-in"
USER = "user"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def _folder(kind: str) -> Traversable:
    _check_kind(kind)
    return files("memgpt.agent") / "prompts" / _FOLDERS[kind]


def builtin_names(kind: str) -> list[str]:
    """Names of the built-in texts of one kind, sorted."""
    folder = _folder(kind)
    if not folder.is_dir():
        return []
    return sorted(entry.name[: -len(_SUFFIX)] for entry in folder.iterdir()
                  if entry.is_file() and entry.name.endswith(_SUFFIX) and not entry.name.startswith("."))


def builtin_text(kind: str, name: str) -> str | None:
    """The built-in text, or None when there is no built-in of that name."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        _check_kind(kind)
        return None
    entry = _folder(kind) / f"{name}{_SUFFIX}"
    if not entry.is_file():
        return None
    return entry.read_text(encoding="utf-8")


def _user_kind(kind: str) -> bool:
    return kind in ("persona", "human")


def get_text(rt: Runtime, kind: str, name: str, user_id: str | None = None) -> str:
    """The text for a name: a user-added one first (personas and humans), then a built-in."""
    _check_kind(kind)
    if _user_kind(kind):
        text = rt.metadata.get_template(user_id or rt.user.id, kind, name)
        if text is not None:
            return text
    text = builtin_text(kind, name)
    if text is not None:
        return text
    available = [n for n, _origin, _text in list_texts(rt, kind, user_id)]
    hint = f"available: {', '.join(available) if available else '(none)'}"
    if _user_kind(kind):
        hint += f"; add one with: memgpt add {kind} --name N --text ..."
    raise NotFoundError(f"no {kind} named {name!r}", hint)


def list_texts(rt: Runtime, kind: str, user_id: str | None = None) -> list[tuple[str, str, str]]:
    """(name, origin, text) for every text of a kind, sorted by name; user entries shadow built-ins."""
    _check_kind(kind)
    entries: dict[str, tuple[str, str]] = {}
    for name in builtin_names(kind):
        text = builtin_text(kind, name)
        if text is not None:
            entries[name] = (BUILTIN, text)
    if _user_kind(kind):
        for name, text in rt.metadata.list_templates(user_id or rt.user.id, kind).items():
            entries[name] = (USER, text)
    return [(name, origin, text) for name, (origin, text) in sorted(entries.items())]
