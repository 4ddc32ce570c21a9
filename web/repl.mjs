// The REPL page: boot Pyodide + webinfer, then hand each input to repl.py (completeness check, run with
// top-level await, tracebacks). This file only handles keys, history and the transcript.
// window.replState = { ready, busy, runs, errors } lets tests and scripts wait on it.

import { pickBackend, supportOf } from "./backends.mjs";
import { loadConfig, loadWebinfer } from "./boot.mjs";
import { probe } from "./devices.mjs";

const SNIPPETS = [
  {
    title: "Encode two sentences, print their cosine",
    code: `enc = await SentenceEncoder.load_async(MODEL_URL, backend=BACKEND)
a, b = (await enc.encode_async(["A man is playing a guitar.", "Someone is playing an instrument."])).tolist()
print(f"cosine: {sum(x * y for x, y in zip(a, b)):.4f}")`,
  },
  {
    title: "Build a tiny graph, run it on WebGPU",
    code: `g = wi.GraphBuilder()
x = g.input("x", "float32", ["batch", 3])
w = g.constant([[1.0, -1.0], [0.5, 2.0], [-2.0, 0.25]], dtype="float32")
sess = wi.compile(g.build({"y": g.relu(g.matmul(x, w))}), backend="webgpu")
y = sess.run({"x": [[1, 2, 3], [4, 5, 6]]})["y"]
print(y.tolist(), "on", y.backend, "·", y.device)
sess.info()["placement"]`,
  },
  {
    title: "Show devices",
    code: `import js
r = (await js.webinferDevices()).to_py()
print("WebGPU:", r["webgpu"].get("adapter") or r["webgpu"].get("error"))
print("WebNN contexts:", {k: c["created"] for k, c in r["webnn"].get("contexts", {}).items()})
print("crossOriginIsolated:", r["crossOriginIsolated"], "  JSPI:", r["jspi"])`,
  },
  {
    title: "List the ops webinfer knows",
    code: `ops = [op.name for op in wi.all_ops()]
print(len(ops), "ops:", ", ".join(ops))`,
  },
];

const HISTORY_KEY = "webinfer-repl-history";
const $ = (id) => document.getElementById(id);
const state = (window.replState = { ready: false, busy: false, runs: 0, errors: 0 });

let pyodide = null;
let helpers = null;
let userNamespace = null;
const history = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? "[]");
let historyAt = history.length;
let draft = "";

function progress(fraction, text) {
  $("bar-fill").style.width = `${Math.round(fraction * 100)}%`;
  $("progress-text").textContent = text;
}

function append(text, kind) {
  const transcript = $("transcript");
  const last = transcript.lastElementChild;
  if (last && last.dataset.kind === kind && kind !== "in") {
    last.textContent += text; // keep a stream's pieces in one span
  } else {
    const span = document.createElement("span");
    span.className = kind;
    span.dataset.kind = kind;
    span.textContent = text;
    transcript.append(span);
  }
  transcript.scrollTop = transcript.scrollHeight;
}

function echo(source) {
  const lines = source.split("\n");
  append(lines.map((line, i) => `${i ? "... " : ">>> "}${line}`).join("\n") + "\n", "in");
}

async function status(source) {
  helpers.set("_source", source);
  return pyodide.runPython("status(_source)", { globals: helpers });
}

async function execute(text) {
  const source = text.replace(/(\n[ \t]*)+$/, ""); // drop the empty lines that closed a block
  if (!source.trim()) return;
  state.busy = true;
  $("code").value = "";
  $("prompt").textContent = "…";
  echo(source);
  if (history[history.length - 1] !== source) history.push(source);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(-100)));
  historyAt = history.length;
  try {
    helpers.set("_source", source);
    helpers.set("_number", state.runs + 1);
    const ok = await pyodide.runPythonAsync("await run(_source, _namespace, _number)", { globals: helpers });
    if (!ok) state.errors += 1;
  } catch (error) {
    append(`${error?.message ?? error}\n`, "err");
    state.errors += 1;
  } finally {
    state.runs += 1;
    state.busy = false;
    $("prompt").textContent = ">>>";
    $("code").focus();
  }
}

function caretLine(area) {
  const before = area.value.slice(0, area.selectionStart);
  return { first: !before.includes("\n"), last: !area.value.slice(area.selectionEnd).includes("\n") };
}

function newline(area) {
  const at = area.selectionStart;
  const line = area.value.slice(0, at).split("\n").pop();
  let indent = line.match(/^\s*/)[0];
  if (line.trimEnd().endsWith(":")) indent += "    ";
  area.setRangeText("\n" + indent, at, area.selectionEnd, "end");
}

async function onKey(event) {
  const area = event.target;
  if (state.busy) return;
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    if (event.ctrlKey || event.metaKey || (await status(area.value)) !== "incomplete") {
      await execute(area.value);
    } else {
      newline(area);
    }
  } else if (event.key === "Enter" && event.shiftKey) {
    event.preventDefault();
    newline(area);
  } else if (event.key === "ArrowUp" && caretLine(area).first && historyAt > 0) {
    event.preventDefault();
    if (historyAt === history.length) draft = area.value;
    area.value = history[--historyAt];
  } else if (event.key === "ArrowDown" && caretLine(area).last && historyAt < history.length) {
    event.preventDefault();
    historyAt += 1;
    area.value = historyAt === history.length ? draft : history[historyAt];
  } else if (event.key === "l" && event.ctrlKey) {
    event.preventDefault();
    $("transcript").replaceChildren();
  }
}

function renderSnippets() {
  const box = $("snippets");
  for (const snippet of SNIPPETS) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = snippet.title;
    button.addEventListener("click", () => { if (state.ready && !state.busy) execute(snippet.code); });
    box.append(button);
  }
}

async function main() {
  renderSnippets();
  window.webinferDevices = () => probe(10000);
  progress(0.05, "loading Pyodide…");
  const config = await loadConfig();
  const stream = (kind) => (text) => append(text, kind);
  const [loaded, report] = await Promise.all([
    loadWebinfer({ config, stdout: stream("out"), stderr: stream("err"), onStep: (s) => progress(0.4, `${s}…`) }),
    probe(10000),
  ]);
  pyodide = loaded.pyodide;
  progress(0.9, "importing webinfer…");
  helpers = pyodide.toPy({});
  const source = await (await fetch("repl.py", { cache: "no-cache" })).text();
  await pyodide.runPythonAsync(source, { globals: helpers, filename: "repl.py" });
  const backend = pickBackend(supportOf(report)) ?? "webgpu";
  const preload = pyodide.toPy({ BACKEND: backend, MODEL_URL: new URL("minilm/", config.modelsURL).href });
  userNamespace = helpers.get("new_namespace")(preload);
  preload.destroy();
  helpers.set("_namespace", userNamespace);
  append(helpers.get("banner")(userNamespace), "info");
  progress(1, `ready in ${(performance.now() / 1000).toFixed(1)} s`);
  const area = $("code");
  area.disabled = false;
  area.addEventListener("keydown", onKey);
  area.focus();
  state.ready = true;
}

main().catch((error) => {
  progress(1, "failed");
  append(`${error?.stack ?? error}\n`, "err");
  state.error = String(error);
});
