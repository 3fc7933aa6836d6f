"""Built-in prompts, personas and humans, and user templates shadowing them."""

from __future__ import annotations

import pytest

from memgpt.agent import library
from memgpt.config import Settings
from memgpt.errors import NotFoundError
from memgpt.runtime import Runtime

FUNCTIONS = (
    "send_message",
    "pause_heartbeats",
    "core_memory_append",
    "core_memory_replace",
    "conversation_search",
    "conversation_search_date",
    "archival_memory_insert",
    "archival_memory_search",
)


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(Settings(home=tmp_path))
    try:
        yield runtime
    finally:
        runtime.close()


def test_builtin_names():
    personas = library.builtin_names("persona")
    assert {"sam_pov", "memgpt_doc", "memgpt_starter", "sam_simple_pov_gpt35", "anna_pov"} <= set(personas)
    assert personas == sorted(personas)
    assert {"basic", "cs_phd"} <= set(library.builtin_names("human"))
    assert {"memgpt_chat", "memgpt_doc"} <= set(library.builtin_names("preset"))


def test_unknown_kind_rejected():
    with pytest.raises(ValueError):
        library.builtin_names("robot")


@pytest.mark.parametrize("kind", library.KINDS)
def test_builtin_texts_are_nonempty(kind):
    for name in library.builtin_names(kind):
        text = library.builtin_text(kind, name)
        assert text and text.strip(), (kind, name)


def test_builtin_text_missing_is_none():
    assert library.builtin_text("persona", "no_such_persona") is None
    assert library.builtin_text("persona", "../system/memgpt_chat") is None


@pytest.mark.parametrize("name", ["memgpt_chat", "memgpt_doc"])
def test_system_prompt_shape(name):
    text = library.builtin_text("preset", name)
    assert text is not None
    assert text.count("{memory}") == 1
    assert "{memory}" in text.splitlines()
    # the placeholder is the only brace pair, so str.replace is safe
    assert text.count("{") == 1 and text.count("}") == 1
    for fn in FUNCTIONS:
        assert fn in text, fn
    assert "request_heartbeat" in text
    assert "YYYY-MM-DD" in text


def test_get_text_builtin(rt):
    assert library.get_text(rt, "persona", "sam_pov") == library.builtin_text("persona", "sam_pov")
    assert library.get_text(rt, "human", "basic") == library.builtin_text("human", "basic")
    assert "{memory}" in library.get_text(rt, "preset", "memgpt_chat")


def test_user_template_shadows_builtin(rt):
    rt.metadata.put_template(rt.user.id, "persona", "sam_pov", "I am a different Sam.")
    rt.metadata.put_template(rt.user.id, "persona", "zed", "I am Zed.")
    assert library.get_text(rt, "persona", "sam_pov") == "I am a different Sam."
    assert library.get_text(rt, "persona", "zed") == "I am Zed."

    entries = library.list_texts(rt, "persona")
    names = [n for n, _, _ in entries]
    assert names == sorted(names)
    assert names.count("sam_pov") == 1
    by_name = {n: (origin, text) for n, origin, text in entries}
    assert by_name["sam_pov"] == ("user", "I am a different Sam.")
    assert by_name["zed"] == ("user", "I am Zed.")
    assert by_name["anna_pov"][0] == "built-in"
    # a persona template does not leak into humans
    assert "zed" not in [n for n, _, _ in library.list_texts(rt, "human")]


def test_presets_are_builtin_only(rt):
    rt.metadata.put_template(rt.user.id, "preset", "memgpt_chat", "not used")
    assert library.get_text(rt, "preset", "memgpt_chat") == library.builtin_text("preset", "memgpt_chat")
    assert all(origin == "built-in" for _, origin, _ in library.list_texts(rt, "preset"))


def test_unknown_name_raises_with_hint(rt):
    with pytest.raises(NotFoundError) as info:
        library.get_text(rt, "persona", "nobody")
    err = info.value
    assert "nobody" in err.message
    assert "sam_pov" in err.hint and "anna_pov" in err.hint
    assert "memgpt add persona --name N --text" in err.hint

    with pytest.raises(NotFoundError) as info:
        library.get_text(rt, "preset", "nope")
    assert "memgpt_chat" in info.value.hint
