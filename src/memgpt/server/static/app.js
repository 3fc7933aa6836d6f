// The memgpt page: agents, chat, memory and sources over the server's /api, with no build step.
// Every request carries the key from localStorage as a bearer token; every error the server
// returns ({error, hint}) is shown in the alert at the top. Text from the server is only ever
// set with textContent, never parsed as HTML.
"use strict";

const KEY = "memgpt.apiKey";
const $ = (id) => document.getElementById(id);
const state = { agent: null, agents: [], sources: [], oldest: null, busy: false };

// ---------------------------------------------------------------- talking to the server

class ApiError extends Error {
  constructor(status, body) {
    // FastAPI's own validation errors come as {detail: [...]}; ours as {error, hint}.
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    super(body.error || detail || `HTTP ${status}`);
    this.status = status;
    this.hint = body.hint || null;
  }
}

async function request(path, options = {}) {
  const headers = { Authorization: `Bearer ${localStorage.getItem(KEY) || ""}`, ...(options.headers || {}) };
  let body = options.body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const response = await fetch(path, { ...options, headers, body });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new ApiError(response.status, data);
  }
  return response;
}

async function api(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

const agentPath = (suffix = "") => `/api/agents/${encodeURIComponent(state.agent.id)}${suffix}`;

// Reads a POST's Server-Sent Events as they arrive (EventSource cannot POST or send headers).
async function streamEvents(path, body, onEvent) {
  const response = await request(path, { method: "POST", body });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let kind = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) kind = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
    }
  }
}

// ---------------------------------------------------------------- small DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function showError(err) {
  const notice = $("notice");
  notice.textContent = err.hint ? `${err.message} (${err.hint})` : err.message;
  notice.hidden = false;
  if (err.status === 401) signOut(false);
}

// Progress and outcomes; it leaves the alert alone (another action's error stays until the next action).
function say(text) {
  $("status").textContent = text;
}

// Wraps an event handler: a form's default submit is stopped, the button is disabled while the
// request runs (so a double click sends once), and any error reaches the alert.
function action(fn) {
  return async (event) => {
    if (event && event.type === "submit") event.preventDefault();
    const button = event && (event.submitter || (event.currentTarget instanceof HTMLButtonElement ? event.currentTarget : null));
    if (button) button.disabled = true;
    try {
      $("notice").hidden = true;
      await fn(event);
    } catch (err) {
      showError(err);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

// ---------------------------------------------------------------- signing in

async function signIn(key) {
  localStorage.setItem(KEY, key);
  try {
    await loadAgents();
  } catch (err) {
    localStorage.removeItem(KEY);
    throw err;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `key …${key.slice(-4)}`;
  await Promise.all([loadLibrary(), loadSources()]);
  say(`Signed in: ${state.agents.length} agents, ${state.sources.length} sources`);
}

function signOut(clearNotice = true) {
  localStorage.removeItem(KEY);
  Object.assign(state, { agent: null, agents: [], sources: [], oldest: null });
  $("app").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("agent-view").hidden = true;
  $("no-agent").hidden = false;
  $("login").hidden = false;
  // Nothing of this user's stays on the page for the next key.
  for (const id of ["agent-list", "source-names", "source-list", "messages", "core-blocks", "passages",
                    "recall-results", "job-errors", "context-bar", "context-legend"]) $(id).replaceChildren();
  $("job").hidden = true;
  if (clearNotice) $("notice").hidden = true;
  $("key").value = "";
  $("key").focus();
}

// ---------------------------------------------------------------- agents

async function loadAgents() {
  // Several actions reload the list; only the newest answer may draw it (an older one may be stale).
  const seq = (state.agentsSeq = (state.agentsSeq || 0) + 1);
  const agents = await api("/api/agents");
  if (seq !== state.agentsSeq) return;
  state.agents = agents;
  // The list is rebuilt: a keyboard user who picked an agent keeps focus on it.
  const hadFocus = document.activeElement && document.activeElement.classList.contains("agent");
  const list = $("agent-list");
  list.replaceChildren(...state.agents.map((a) => el("li", {},
    el("button", { type: "button", class: "agent", "aria-current": state.agent && state.agent.id === a.id ? "true" : null,
                   onclick: action(() => openAgent(a.id)) }, a.name))));
  $("no-agents").hidden = state.agents.length > 0;
  if (hadFocus) list.querySelector('[aria-current="true"]')?.focus();
}

async function loadLibrary() {
  for (const kind of ["persona", "human", "preset"]) {
    const entries = await api(`/api/${kind}s`);
    $(`new-${kind}`).replaceChildren(el("option", { value: "" }, "(default)"),
      ...entries.map((t) => el("option", { value: t.name }, `${t.name}${t.origin === "user" ? " (yours)" : ""}`)));
  }
}

async function openAgent(id) {
  state.agent = await api(`/api/agents/${encodeURIComponent(id)}`);
  $("agent-title").textContent = state.agent.name;
  $("rename").value = state.agent.name;
  $("no-agent").hidden = true;
  $("agent-view").hidden = false;
  $("passages").replaceChildren();
  $("recall-results").replaceChildren();
  $("core-blocks").replaceChildren();
  await Promise.all([loadAgents(), loadMessages(), refreshMemory(), renderSources()]);
  say(`Agent ${state.agent.name}`);
}

async function createAgent() {
  const body = { name: $("new-name").value.trim() };
  for (const kind of ["persona", "human", "preset"]) body[kind] = $(`new-${kind}`).value || null;
  const agent = await api("/api/agents", { method: "POST", body });
  $("create-form").reset();
  $("new-agent").open = false;
  await openAgent(agent.id);
  $("message").focus();
}

async function renameAgent() {
  state.agent = await api(agentPath(), { method: "PATCH", body: { name: $("rename").value.trim() } });
  $("agent-title").textContent = state.agent.name;
  await loadAgents();
  say(`Renamed to ${state.agent.name}`);
}

async function deleteAgent() {
  if (!confirm(`Delete agent ${state.agent.name} with its messages and archival memory?`)) return;
  await api(agentPath(), { method: "DELETE" });
  say(`Deleted ${state.agent.name}`);
  state.agent = null;
  $("agent-view").hidden = true;
  $("no-agent").hidden = false;
  await loadAgents();
}

async function exportAgent() {
  const data = await api(agentPath("/export"));
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const link = el("a", { href: url, download: `${state.agent.name}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  say(`Exported ${state.agent.name}`);
}

async function importAgent() {
  const file = $("import-file").files[0];
  let data;
  try {
    data = JSON.parse(await file.text());
  } catch (err) {
    throw new ApiError(0, { error: `${file.name} is not JSON`, hint: "choose a file made by Export" });
  }
  const out = await api("/api/agents/import", { method: "POST", body: { data, name: $("import-name").value.trim() || null } });
  $("import-form").reset();
  $("import").open = false;
  await openAgent(out.agent.id);
  say(out.warnings.length ? `Imported with warnings: ${out.warnings.join("; ")}` : `Imported ${out.agent.name}`);
}

// ---------------------------------------------------------------- chat

// A message of recall as the step events the stream sends, so history and live turns render alike.
function eventsOf(m) {
  const stale = !m.in_context;
  if (m.role === "assistant") {
    const out = m.content ? [{ kind: "thought", text: m.content, stale }] : [];
    for (const call of m.tool_calls) {
      out.push({ kind: "call", name: call.name, text: `${call.name}(${call.arguments})`, stale });
      if (call.name === "send_message") out.push({ kind: "message", text: parsed(call.arguments).message || "", stale });
    }
    return out;
  }
  if (m.role === "tool") {
    const result = parsed(m.content);
    // {"status", "message"}: a null message (send_message's) reads as its status, as the stream shows it
    return [{ kind: "result", name: m.name, text: result.message ?? result.status ?? m.content ?? "",
              ok: result.status !== "Failed", stale }];
  }
  if (m.role === "user") {
    const packed = parsed(m.content);
    return [{ kind: "system", text: packed.message || packed.reason || m.content || "", stale }];
  }
  return [];
}

function parsed(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

// Groups messages into turns: a user message, then everything the agent did in answer.
function turnsOf(messages) {
  const turns = [];
  for (const m of messages) {
    if (m.role === "system") continue;
    if (m.role === "user" && m.name !== "event") turns.push({ user: m.content, events: [] });
    else {
      if (!turns.length) turns.push({ user: null, events: [] });
      turns[turns.length - 1].events.push(...eventsOf(m));
    }
  }
  return turns;
}

// Symbols every system font has (DejaVu included), so no emoji font is needed.
const ICON = { thought: "✎", call: "⚡", result: "↩", system: "ℹ", warning: "⚠", message: "✉" };

// One turn: the user's message, the agent's replies, and its steps folded underneath.
function renderTurn(turn, node = el("li", { class: "turn" })) {
  const replies = turn.events.filter((e) => e.kind === "message");
  const failed = turn.events.filter((e) => e.kind === "warning" && e.ok === false);  // the step's error
  const steps = turn.events.filter((e) => e.kind !== "message" && !failed.includes(e));
  const calls = steps.filter((e) => e.kind === "call").map((e) => e.name);
  const summary = turn.pending
    ? `Working… ${calls.length ? `called ${calls.join(", ")}` : "thinking"}`
    : `${steps.length} steps: ${calls.length ? calls.join(", ") : "no function calls"}`;
  const wasOpen = node.querySelector("details")?.open;
  node.replaceChildren(
    turn.user !== null ? el("div", { class: "msg user" }, el("span", { class: "who" }, "You"), el("p", {}, turn.user)) : null,
    el("div", { class: `msg agent${turn.pending ? " pending" : ""}` },
      el("span", { class: "who" }, state.agent ? state.agent.name : "agent"),
      turn.pending && !turn.events.length ? el("p", { class: "muted" }, "Thinking…") : null,
      ...failed.map((e) => el("p", { class: "error" }, `${ICON.warning} ${e.text}`)),
      ...replies.map((e) => el("p", { class: `reply${e.stale ? " stale" : ""}`,
                                      title: e.stale ? "no longer in the agent's context (retried, popped or summarised)" : null }, e.text)),
      steps.length ? el("details", { class: "steps", open: wasOpen ? "" : null },
        el("summary", {}, summary),
        el("ol", {}, ...steps.map((e) => el("li", { class: `step ${e.kind}${e.ok === false ? " failed" : ""}${e.stale ? " stale" : ""}` },
          el("span", { class: "icon", "aria-hidden": "true" }, ICON[e.kind] || "·"),
          el("span", { class: "kind" }, e.name ? `${e.kind} ${e.name}` : e.kind),
          el("pre", {}, e.text))))) : null));
  return node;
}

async function loadMessages(before = null) {
  const query = new URLSearchParams({ limit: "60", ...(before ? { before } : {}) });
  const page = await api(agentPath(`/messages?${query}`));
  const nodes = turnsOf(page.messages).map((t) => renderTurn(t));
  if (before) $("messages").prepend(...nodes);
  else $("messages").replaceChildren(...nodes);
  state.oldest = page.messages.length ? page.messages[0].id : null;
  $("older").hidden = !page.has_more;
  if (!before) scrollChat();
}

function scrollChat() {
  const list = $("messages");
  list.scrollTop = list.scrollHeight;
}

async function sendMessage() {
  const text = $("message").value.trim();
  if (!text || state.busy) return;
  state.busy = true;
  const turn = { user: text, events: [], pending: true };
  const node = renderTurn(turn);
  $("messages").append(node);
  $("message").value = "";
  scrollChat();
  let streaming = false;
  let failure = null;
  try {
    await streamEvents(agentPath("/messages"), { message: text, stream: true }, (kind, data) => {
      streaming = true;
      if (kind === "step") {
        turn.events.push(data);
        renderTurn(turn, node);
        scrollChat();
        // The agent saves each inner step: show its own core memory edits as they happen.
        if (data.kind === "result" && (data.name || "").startsWith("core_memory")) refreshMemory().catch(showError);
      } else if (kind === "error") {
        // The step began (the message is saved), so the turn stays, with the error in it.
        failure = new ApiError(data.status, data);
        turn.events.push({ kind: "warning", text: failure.message, ok: false });
      }
    });
  } catch (err) {
    if (!streaming) {  // refused before it began (busy, not found...): give the text back to resend
      node.remove();
      $("message").value = text;
    }
    throw err;
  } finally {
    state.busy = false;
    turn.pending = false;
    renderTurn(turn, node);
    await refreshMemory();
  }
  if (failure) throw failure;
  say("Reply received");
}

async function runCommand(command) {
  const result = await api(agentPath("/commands"), { method: "POST", body: { command } });
  await Promise.all([loadMessages(), refreshMemory()]);
  say(result.info || `${command.split(" ")[0]} done`);
}

// ---------------------------------------------------------------- core memory and the context bar

async function refreshMemory() {
  if (!state.agent) return;
  const [memory, tokens] = await Promise.all([api(agentPath("/memory")), api(agentPath("/context"))]);
  renderBlocks(memory);
  renderContext(tokens);
  $("memory-counts").textContent =
    `${memory.recall_count} messages in recall, ${memory.archival_count} passages in archival memory`;
}

function renderBlocks(memory) {
  const holder = $("core-blocks");
  for (const block of Object.values(memory.core)) {
    const id = `block-${block.label}`;
    let form = holder.querySelector(`form[data-label="${CSS.escape(block.label)}"]`);
    if (!form) {
      form = el("form", { class: "block stack", "data-label": block.label, onsubmit: action(saveBlock) },
        el("label", { for: id }, el("span", { class: "name" }, block.label), " ", el("span", { class: "size" })),
        el("textarea", { id, rows: "5", maxlength: String(block.limit), oninput: (e) => {
          form.dataset.dirty = "1";
          sizeLabel(form, e.target.value.length, block.limit);
        } }),
        el("button", { type: "submit" }, `Save ${block.label}`));
      holder.append(form);
    }
    const area = form.querySelector("textarea");
    // Keep what the user is typing; otherwise show the block as the agent last saved it.
    if (document.activeElement !== area || !form.dataset.dirty) area.value = block.value;
    sizeLabel(form, area.value.length, block.limit);
  }
  for (const form of holder.querySelectorAll("form")) {
    if (!(form.dataset.label in memory.core)) form.remove();
  }
}

function sizeLabel(form, used, limit) {
  form.querySelector(".size").textContent = `${used} / ${limit} characters`;
}

async function saveBlock(event) {
  const form = event.target;
  const label = form.dataset.label;
  const value = form.querySelector("textarea").value;
  const memory = await api(agentPath("/memory"), { method: "PATCH", body: { blocks: { [label]: value } } });
  delete form.dataset.dirty;
  renderBlocks(memory);
  renderContext(await api(agentPath("/context")));
  say(`Saved ${label}: the agent sees it in its next step`);
}

function renderContext(t) {
  const parts = [["system", "System", t.system], ["tools", "Functions", t.tools], ["messages", "Messages", t.messages]];
  const used = t.system + t.tools + t.messages;
  const pct = (n) => `${Math.min(100, (100 * n) / t.context_window).toFixed(1)}%`;
  $("context-bar").replaceChildren(
    ...parts.map(([key, , n]) => el("span", { class: `part part-${key}`, "data-width": pct(n) })),
    el("span", { class: "limit", "data-left": pct(t.limit), title: `summary starts above ${t.limit} tokens` }));
  // Widths go through the CSSOM: the page's policy forbids inline style attributes.
  for (const span of $("context-bar").children) {
    if (span.dataset.width) span.style.width = span.dataset.width;
    if (span.dataset.left) span.style.left = span.dataset.left;
  }
  $("context-bar").setAttribute("aria-label",
    `${used} of ${t.context_window} tokens used: ${parts.map(([, name, n]) => `${name.toLowerCase()} ${n}`).join(", ")}`);
  $("context-legend").replaceChildren(
    ...parts.map(([key, name, n]) => el("li", {}, el("span", { class: `swatch part-${key}`, "aria-hidden": "true" }), `${name} ${n}`)),
    el("li", {}, `${used} of ${t.context_window} tokens (${pct(used)}); summary above ${t.limit}`));
}

// ---------------------------------------------------------------- archival memory

function renderPassages(passages, emptyText) {
  $("passages").replaceChildren(...(passages.length ? passages.map((p) => {
    const origin = p.source
      ? `source ${p.source}${p.file_name ? ` · ${p.file_name}` : ""}${p.page ? ` · page ${p.page}` : ""}`
      : "the agent's own";
    return el("li", { class: "passage" },
      el("p", { class: "meta" }, origin, p.score !== null ? ` · score ${p.score.toFixed(3)}` : ""),
      el("p", { class: "text" }, p.text),
      p.agent_id ? el("button", { type: "button", class: "danger small", "aria-label": `Delete passage: ${p.text.slice(0, 40)}`,
                                  onclick: action(() => deletePassage(p.id)) }, "Delete") : null);
  }) : [el("li", { class: "muted" }, emptyText)]));
}

async function searchArchival() {
  const q = $("archival-q").value.trim();
  renderPassages(await api(agentPath(`/archival/search?${new URLSearchParams({ q, limit: "10" })}`)), `Nothing found for “${q}”.`);
}

async function listArchival() {
  renderPassages(await api(agentPath("/archival?limit=50")), "Archival memory is empty.");
}

async function insertPassage() {
  const out = await api(agentPath("/archival"), { method: "POST", body: { text: $("archival-text").value } });
  $("archival-text").value = "";
  await Promise.all([listArchival(), refreshMemory()]);
  say(`Stored ${out.passages} passage${out.passages === 1 ? "" : "s"}`);
}

async function deletePassage(id) {
  await api(agentPath(`/archival/${encodeURIComponent(id)}`), { method: "DELETE" });
  await Promise.all([listArchival(), refreshMemory()]);
  say("Passage deleted");
}

// ---------------------------------------------------------------- recall memory

function renderRecall(messages, emptyText) {
  $("recall-results").replaceChildren(...(messages.length ? messages.map((m) => {
    const text = m.tool_calls.length ? m.tool_calls.map((c) => `${c.name}(${c.arguments})`).join("\n") : m.content;
    return el("li", {}, el("p", { class: "meta" }, `${m.role} · ${m.created_at.replace("T", " ").replace("+00:00", " UTC")}`),
      el("p", { class: "text" }, (m.content && m.role === "assistant" ? `${m.content}\n` : "") + (text || "")));
  }) : [el("li", { class: "muted" }, emptyText)]));
}

async function searchRecall() {
  const q = $("recall-q").value.trim();
  renderRecall(await api(agentPath(`/messages/search?${new URLSearchParams({ q })}`)), `No messages match “${q}”.`);
}

async function recallByDate() {
  const query = new URLSearchParams({ start: $("recall-start").value, end: $("recall-end").value });
  renderRecall(await api(agentPath(`/messages/by-date?${query}`)), "No messages on those days.");
}

// ---------------------------------------------------------------- sources and uploads

async function loadSources() {
  state.sources = await api("/api/sources");
  $("source-names").replaceChildren(...state.sources.map((s) => el("option", { value: s.name })));
  await renderSources();
}

async function renderSources() {
  if (!state.agent) return;
  const attached = new Set(state.agent.sources);
  $("source-list").replaceChildren(...state.sources.map((s) => {
    const on = attached.has(s.name);
    return el("li", { class: "source" },
      el("span", { class: "name" }, s.name),
      el("span", { class: "muted" }, ` ${s.n_documents} documents, ${s.n_passages} passages${on ? " · attached" : ""}`),
      el("button", { type: "button", class: "small", "aria-label": `${on ? "Detach" : "Attach"} ${s.name}`,
                     onclick: action(() => toggleSource(s.name, on)) }, on ? "Detach" : "Attach"));
  }));
  $("no-sources").hidden = state.sources.length > 0;
}

async function toggleSource(name, attached) {
  if (attached) await api(agentPath(`/sources/${encodeURIComponent(name)}`), { method: "DELETE" });
  else await api(agentPath("/sources"), { method: "POST", body: { source: name } });
  state.agent = await api(agentPath());
  await Promise.all([renderSources(), refreshMemory()]);
  say(`${attached ? "Detached" : "Attached"} ${name}`);
}

async function upload() {
  const name = $("upload-source").value.trim();
  const form = new FormData();
  for (const file of $("upload-files").files) form.append("files", file, file.name);
  let job = await api(`/api/sources/${encodeURIComponent(name)}/upload`, { method: "POST", body: form });
  $("job").hidden = false;
  $("job-errors").replaceChildren();
  $("job-message").textContent = "";
  // The job API is the progress: poll it until the load ends, then show its per-file errors.
  while (job.status === "queued" || job.status === "running") {
    renderJob(job, name);
    await new Promise((resolve) => setTimeout(resolve, 300));
    job = await api(`/api/jobs/${encodeURIComponent(job.id)}`);
  }
  renderJob(job, name);
  $("upload-form").reset();
  await loadSources();
  if (job.status === "failed") throw new ApiError(0, { error: job.message || "the load failed" });
  say(job.message || "Loaded");
}

function renderJob(job, name) {
  const bar = $("job-progress");
  bar.max = Math.max(job.total, 1);
  bar.value = job.status === "done" ? bar.max : job.done;
  $("job-label").textContent = `Loading into ${name}: ${job.status}${job.total ? ` (${job.done} of ${job.total} passages)` : ""}`;
  if (job.message) $("job-message").textContent = job.message;
  $("job-errors").replaceChildren(...job.errors.map((e) => el("li", {}, `${e.file}: ${e.error}`)));
}

// ---------------------------------------------------------------- tabs (WAI-ARIA pattern: arrows move between tabs)

function selectTab(tab) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const on = other === tab;
    other.setAttribute("aria-selected", String(on));
    other.tabIndex = on ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !on;
  }
  tab.focus();
  if (tab.id === "tab-archival" && !$("passages").children.length) listArchival().catch(showError);
  if (tab.id === "tab-sources") loadSources().catch(showError);
}

function tabKeys(event) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const i = tabs.indexOf(event.target);
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  selectTab(tabs[(next + tabs.length) % tabs.length]);
}

// ---------------------------------------------------------------- wiring

function wire() {
  const on = (id, type, fn) => $(id).addEventListener(type, action(fn));
  on("login-form", "submit", () => signIn($("key").value.trim()));
  $("logout").addEventListener("click", () => { signOut(); say("Key forgotten"); });
  on("create-form", "submit", createAgent);
  on("import-form", "submit", importAgent);
  on("rename-form", "submit", renameAgent);
  on("export", "click", exportAgent);
  on("delete", "click", deleteAgent);
  on("send-form", "submit", sendMessage);
  on("retry", "click", () => runCommand("/retry"));
  on("rewrite-form", "submit", async () => {
    await runCommand(`/rewrite ${$("rewrite").value.trim()}`);
    $("rewrite").value = "";
  });
  on("older", "click", () => loadMessages(state.oldest));
  on("archival-search", "submit", searchArchival);
  on("archival-all", "click", listArchival);
  on("archival-insert", "submit", insertPassage);
  on("recall-text", "submit", searchRecall);
  on("recall-date", "submit", recallByDate);
  on("upload-form", "submit", upload);
  // Enter sends, Shift+Enter makes a new line (as in most chat boxes).
  $("message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("send-form").requestSubmit($("send"));
    }
  });
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", tabKeys);
  }
  const today = new Date().toISOString().slice(0, 10);
  $("recall-start").value = today;
  $("recall-end").value = today;
}

document.addEventListener("DOMContentLoaded", () => {
  wire();
  const key = localStorage.getItem(KEY);
  if (key) action(() => signIn(key))();
  else $("key").focus();
});
