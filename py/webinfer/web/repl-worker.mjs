// The REPL's Python, in a dedicated worker so that a busy loop never freezes the tab and Stop works:
// Pyodide + webinfer booted here (WebGPU and WebNN are exposed to dedicated workers), each input handed to
// repl.py. Messages in: boot {interrupt, input}, status {id, source}, complete {id, text},
// run {id, source, number}. Messages out: out/err {text}, progress {fraction, text},
// ready {banner, interruptible}, reply {id, value}, failed {id, error},
// input {} (Python waits in input() for a line: the page answers through the shared `input` channel).

import { loadConfig, loadWebinfer } from "./boot.mjs";
import { probe } from "./devices.mjs";

let pyodide = null;
let helpers = null;
const post = (message) => self.postMessage(message);

// The page's answer to input(): control = Int32Array [state, byte length] (state 0 waiting, 1 a line,
// 2 interrupted), data = the line's UTF-8 bytes. Both on SharedArrayBuffers, so this worker can block.
const INPUT = { WAITING: 0, LINE: 1, INTERRUPTED: 2 }; // repl.mjs writes the same numbers

/** Block until the page sends a line: {status: "line" | "interrupted" | "unavailable", text}. */
function readLine(channel) {
  if (!channel) return { status: "unavailable", text: "" };
  Atomics.store(channel.control, 0, INPUT.WAITING);
  post({ type: "input" });
  Atomics.wait(channel.control, 0, INPUT.WAITING);
  const text = new TextDecoder().decode(channel.data.slice(0, Atomics.load(channel.control, 1)));
  return { status: Atomics.load(channel.control, 0) === INPUT.LINE ? "line" : "interrupted", text };
}

async function boot({ interrupt, input }) {
  globalThis.webinferDevices = () => probe(10000); // the "Show devices" snippet calls js.webinferDevices()
  globalThis.replReadLine = () => readLine(input); // repl.py's input()
  post({ type: "progress", fraction: 0.05, text: "loading Pyodide…" });
  const config = await loadConfig();
  const stream = (type) => (text) => post({ type, text });
  const loaded = await loadWebinfer({
    config, stdout: stream("out"), stderr: stream("err"),
    onStep: (step) => post({ type: "progress", fraction: 0.4, text: `${step}…` }),
  });
  pyodide = loaded.pyodide;
  if (interrupt) pyodide.setInterruptBuffer(interrupt);
  pyodide.setStdin({
    stdin: () => {
      const reply = readLine(input);
      return reply.status === "line" ? `${reply.text}\n` : null; // null: end of file
    },
  });
  post({ type: "progress", fraction: 0.9, text: "importing webinfer…" });
  helpers = pyodide.toPy({});
  const source = await (await fetch("repl.py", { cache: "no-cache" })).text();
  await pyodide.runPythonAsync(source, { globals: helpers, filename: "repl.py" });
  helpers.get("install_input")();
  // BACKEND: webinfer's `auto` choice for this browser (repl.py asks webinfer.backends.choose)
  const preload = pyodide.toPy({
    MODEL_URL: new URL("minilm/", config.modelsURL).href, LLM_URL: new URL("smollm2/", config.modelsURL).href,
  });
  const namespace = helpers.get("new_namespace")(preload);
  preload.destroy();
  helpers.set("_namespace", namespace);
  post({ type: "ready", banner: helpers.get("banner")(namespace), interruptible: Boolean(interrupt) });
}

/** Run `code` with repl.py's globals and `values` bound; a Python object comes back as plain JS (cloneable). */
async function call(code, values) {
  for (const [name, value] of Object.entries(values)) helpers.set(name, value);
  const result = await pyodide.runPythonAsync(code, { globals: helpers });
  if (!(result instanceof pyodide.ffi.PyProxy)) return result;
  try {
    return result.toJs();
  } finally {
    result.destroy();
  }
}

const handlers = {
  boot,
  status: ({ source }) => call("status(_source)", { _source: source }),
  complete: ({ text }) => call("completions(_text, _namespace)", { _text: text }),
  run: ({ source, number }) => call("await run(_source, _namespace, _number)", { _source: source, _number: number }),
};

let queue = Promise.resolve(); // one message at a time, in order
self.onmessage = ({ data }) => {
  queue = queue.then(async () => {
    try {
      const value = await handlers[data.type](data);
      if (data.id != null) post({ type: "reply", id: data.id, value });
    } catch (error) {
      post({ type: "failed", id: data.id ?? null, error: `${error?.stack ?? error}` });
    }
  });
};
