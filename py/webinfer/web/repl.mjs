// The REPL page: keys, history, the transcript and Stop. Python runs in repl-worker.mjs (Pyodide + webinfer
// in a dedicated worker), so a long or endless input never freezes the tab. Stop (or Ctrl+C while input
// runs) raises KeyboardInterrupt through Pyodide's interrupt buffer when the page is cross-origin isolated
// (SharedArrayBuffer); when Python does not stop within GRACE_MS, or there is no isolation, the worker is
// replaced by a fresh interpreter (its variables are gone, and the transcript says so).
// input() blocks the worker on a SharedArrayBuffer until the page sends the line typed at the prompt.
// window.replState = { ready, busy, awaitingInput, runs, errors, restarts, interruptible } lets tests and
// scripts wait on it.

const SNIPPETS = [
  {
    title: "Encode two sentences, print their cosine",
    code: `enc = await SentenceEncoder.load_async(MODEL_URL, backend=BACKEND)
a, b = (await enc.encode_async(["A man is playing a guitar.", "Someone is playing an instrument."])).tolist()
print(f"cosine: {sum(x * y for x, y in zip(a, b)):.4f}")`,
  },
  {
    title: "Stream a completion from SmolLM2",
    code: `lm = await CausalLM.load_async(LLM_URL, backend=BACKEND)
async for piece in lm.stream_async("The capital of France is", max_new_tokens=24):
    print(piece, end="", flush=True)
t = lm.last.timings
print(f"\\n{t['new_tokens']} tokens, {t['tokens_per_s'] or 0:.1f} tokens/s on {lm.last.backend}")`,
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
const GRACE_MS = 3000;
const INPUT = { WAITING: 0, LINE: 1, INTERRUPTED: 2 }; // the states repl-worker.mjs reads
const INPUT_BYTES = 1 << 16;
const $ = (id) => document.getElementById(id);
const state = (window.replState = {
  ready: false, busy: false, awaitingInput: false, runs: 0, errors: 0, restarts: 0, interruptible: false,
});

const history = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? "[]");
let historyAt = history.length;
let draft = "";
let worker = null;
let interrupt = null; // Uint8Array on a SharedArrayBuffer, shared with Pyodide in the worker
let input = null; // { control: Int32Array [state, length], data: Uint8Array }, shared with the worker
let running = null; // the promise of the input being run
let stopping = false;
let checking = null; // while an Enter waits for the worker to say whether the input is complete
let nextId = 0;
const pending = new Map();

/** The rejection of requests a restart cut off: not an error to show (the restart says what happened). */
class Restarted extends Error {}

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

/** Ask the worker; resolves to its reply's value. */
function request(type, payload) {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ type, id, ...payload });
  });
}

function settle(id, outcome, value) {
  const waiter = pending.get(id);
  pending.delete(id);
  waiter?.[outcome](value);
}

function onMessage({ data }) {
  if (data.type === "out" || data.type === "err") append(data.text, data.type);
  else if (data.type === "progress") progress(data.fraction, data.text);
  else if (data.type === "ready") ready(data);
  else if (data.type === "input") awaitInput();
  else if (data.type === "reply") settle(data.id, "resolve", data.value);
  else if (data.type === "failed" && data.id != null) settle(data.id, "reject", new Error(data.error));
  else if (data.type === "failed") bootFailed(data.error);
}

function bootFailed(error) {
  progress(1, "failed");
  append(`${error}\n`, "err");
  state.error = String(error);
}

function startWorker() {
  const started = performance.now();
  worker = new Worker(new URL("./repl-worker.mjs", import.meta.url), { type: "module" });
  worker.onmessage = onMessage;
  worker.onerror = (event) => bootFailed(`the Python worker failed: ${event.message ?? event}`);
  const shared = globalThis.crossOriginIsolated;
  interrupt = shared ? new Uint8Array(new SharedArrayBuffer(1)) : null;
  input = shared
    ? { control: new Int32Array(new SharedArrayBuffer(8)), data: new Uint8Array(new SharedArrayBuffer(INPUT_BYTES)) }
    : null;
  worker.started = started;
  worker.postMessage({ type: "boot", interrupt, input });
}

function awaitInput() {
  state.awaitingInput = true;
  $("prompt").textContent = "input:";
  $("code").focus();
}

/** Wake input() in the worker with `line`, or with KeyboardInterrupt when `line` is null. */
function answerInput(line) {
  const bytes = new TextEncoder().encode(line ?? "");
  if (bytes.length > INPUT_BYTES) {
    append(`that line is ${bytes.length} bytes; input() takes at most ${INPUT_BYTES}\n`, "err");
    return;
  }
  if (line != null) append(`${line}\n`, "in");
  input.data.set(bytes);
  Atomics.store(input.control, 1, bytes.length);
  Atomics.store(input.control, 0, line == null ? INPUT.INTERRUPTED : INPUT.LINE);
  Atomics.notify(input.control, 0);
  state.awaitingInput = false;
  $("code").value = "";
  $("prompt").textContent = "…";
}

function ready({ banner, interruptible }) {
  append(banner, "info");
  if (!interruptible) {
    append("This page is not cross-origin isolated: Stop restarts Python instead of interrupting it.\n", "info");
  }
  progress(1, `ready in ${((performance.now() - worker.started) / 1000).toFixed(1)} s`);
  state.interruptible = interruptible;
  const area = $("code");
  area.disabled = false;
  area.focus();
  state.ready = true;
}

/** Replace the worker by a fresh interpreter (what Stop does when Python does not stop). */
function restart(reason) {
  worker.terminate();
  for (const id of [...pending.keys()]) settle(id, "reject", new Restarted());
  state.ready = false;
  state.awaitingInput = false;
  state.restarts += 1;
  $("code").disabled = true;
  append(`${reason}: started a new Python (earlier variables and imports are gone)\n`, "err");
  progress(0.05, "restarting Python…");
  startWorker();
}

async function stop() {
  if (!state.busy || stopping) return;
  stopping = true;
  try {
    if (state.awaitingInput) {
      answerInput(null); // input() raises KeyboardInterrupt
    } else if (interrupt) {
      Atomics.store(interrupt, 0, 2); // SIGINT: KeyboardInterrupt at Python's next check
      const finished = running.then(() => true, () => true);
      const timer = new Promise((resolve) => setTimeout(() => resolve(false), GRACE_MS));
      if (await Promise.race([finished, timer])) return;
      restart(`Python did not stop within ${GRACE_MS / 1000} s (waiting on the browser, not running Python)`);
    } else {
      restart("Stopped");
    }
  } finally {
    stopping = false;
  }
}

async function execute(text) {
  const source = text.replace(/(\n[ \t]*)+$/, ""); // drop the empty lines that closed a block
  if (!source.trim()) return;
  state.busy = true;
  $("stop").disabled = false;
  $("prompt").textContent = "…";
  echo(source);
  if (history[history.length - 1] !== source) history.push(source);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(-100)));
  historyAt = history.length;
  try {
    running = request("run", { source, number: state.runs + 1 });
    if (!(await running)) state.errors += 1;
  } catch (error) {
    if (!(error instanceof Restarted)) append(`${error?.message ?? error}\n`, "err");
    state.errors += 1;
  } finally {
    if (interrupt) Atomics.store(interrupt, 0, 0); // a Stop that came too late must not hit the next input
    state.runs += 1;
    state.busy = false;
    state.awaitingInput = false;
    $("stop").disabled = true;
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
  if (line.trimEnd().endsWith(":")) indent += INDENT;
  area.setRangeText("\n" + indent, at, area.selectionEnd, "end");
}

const INDENT = "    ";

/** Shift+Tab: take up to one indent off the caret's line. */
function dedent(area) {
  const start = area.value.lastIndexOf("\n", area.selectionStart - 1) + 1;
  const spaces = area.value.slice(start, start + INDENT.length).match(/^ */)[0].length;
  if (spaces) area.setRangeText("", start, start + spaces, "end");
}

/** Tab: complete the name before the caret (common prefix; the choices in the transcript), else indent. */
async function tab(area) {
  const at = area.selectionStart;
  const line = area.value.slice(0, at).split("\n").pop();
  const word = area.selectionEnd === at ? line.match(/[\p{L}\p{N}_.]+$/u)?.[0] : null;
  if (!word || /^\d/.test(word)) {
    area.setRangeText(" ".repeat(INDENT.length - (line.length % INDENT.length)), at, area.selectionEnd, "end");
    return;
  }
  const found = await request("complete", { text: word });
  if (area.selectionStart !== at || area.selectionEnd !== at) return; // the caret moved meanwhile
  let common = found[0] ?? word;
  for (const match of found) while (!match.startsWith(common)) common = common.slice(0, -1);
  if (common.length > word.length) {
    area.setRangeText(common.slice(word.length), at, at, "end");
  } else if (found.length > 1) {
    const dot = word.lastIndexOf(".") + 1;
    append(found.map((match) => match.slice(dot)).join("  ") + "\n", "info");
  }
}

async function onKey(event) {
  const area = event.target;
  if (state.busy) {
    if (event.key === "c" && event.ctrlKey && area.selectionStart === area.selectionEnd) {
      event.preventDefault();
      stop();
    } else if (event.key === "Enter" && !event.shiftKey && state.awaitingInput) {
      event.preventDefault();
      answerInput(area.value);
    }
    return;
  }
  if (!state.ready) return;
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    while (checking) await checking; // Enters are decided in order
    if (state.busy || !state.ready) return;
    const source = area.value;
    if (event.ctrlKey || event.metaKey) {
      area.value = "";
      await execute(source);
      return;
    }
    // Add the line now, so keys typed while the worker decides land after it; take it back if complete.
    const atEnd = area.selectionStart === source.length;
    newline(area);
    const added = area.value;
    const decided = request("status", { source });
    checking = decided.then(() => {}, () => {});
    try {
      if ((await decided) === "incomplete") return;
    } finally {
      checking = null;
    }
    area.value = atEnd && area.value.startsWith(added) ? area.value.slice(added.length) : ""; // keep typed-ahead
    await execute(source);
  } else if (event.key === "Enter" && event.shiftKey) {
    event.preventDefault();
    newline(area);
  } else if (event.key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey) {
    event.preventDefault(); // keep focus in the input
    if (event.shiftKey) dedent(area);
    else await tab(area);
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

renderSnippets();
$("code").addEventListener("keydown", onKey);
$("stop").addEventListener("click", stop);
startWorker();
