// The page side of webinfer's browser harness: boot Pyodide from the local server, micropip-install
// webinfer from the served lock, and run Python scripts with stack switching (runPythonAsync), so
// pyodide.ffi.run_sync works. Output goes to window.__webinferOutput(stream, text) when the host
// exposed it, else to the console and the page.

import { loadWebinfer } from "./boot.mjs";

let pyodide = null;
let helpers = null;
let booting = null;
let nextJob = 1;
const jobs = new Map();
export const timings = {};

// Python side of the runner; lives here (not in the wheel) so a broken webinfer still boots.
const RUNNER = `
import json, sys, traceback
from pyodide.code import eval_code_async

def _user_traceback(exc, filename):
    # Drop the harness's and Pyodide's own frames: start at the script's first frame.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    if tb is None and isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(exc))
    return "".join(traceback.format_exception(exc.with_traceback(tb or exc.__traceback__)))

def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass

async def run(source, filename, namespace):
    try:
        value = await eval_code_async(source, globals=namespace, filename=filename)
    except SystemExit as exc:
        _flush()
        code = exc.code
        if code is None or isinstance(code, int):
            status = code or 0
        else:
            print(code, file=sys.stderr)
            status = 1
        return json.dumps({"ok": status == 0, "exit": status, "type": "SystemExit",
                           "traceback": "" if status == 0 else _user_traceback(exc, filename)})
    except BaseException as exc:
        _flush()
        return json.dumps({"ok": False, "exit": 1, "type": type(exc).__name__,
                           "traceback": _user_traceback(exc, filename)})
    _flush()
    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError) as exc:
        return json.dumps({"ok": False, "exit": 1, "type": "TypeError",
                           "traceback": f"TypeError: the last expression's value is not JSON-serializable: "
                                        f"{type(value).__name__} {value!r:.200} ({exc})"})
    return '{"ok": true, "exit": 0, "value": ' + encoded + '}'

def new_namespace():
    return {"__name__": "__main__", "__builtins__": __builtins__}
`;

function emit(stream, text) {
  if (typeof window.__webinferOutput === "function") {
    window.__webinferOutput(stream, text);
  } else {
    (stream === "stderr" ? console.warn : console.log)(text);
    document.getElementById("log")?.append(text);
  }
}

function setStatus(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}

async function doBoot() {
  const t0 = performance.now();
  const loaded = await loadWebinfer({ stdout: (text) => emit("stdout", text), stderr: (text) => emit("stderr", text) });
  pyodide = loaded.pyodide;
  timings.loadPyodide = loaded.timings.loadPyodide;
  timings.micropip = loaded.timings.micropip;
  helpers = pyodide.toPy({});
  await pyodide.runPythonAsync(RUNNER, { globals: helpers, filename: "<webinfer-harness>" });
  pyodide.runPython("import webinfer");
  timings.importWebinfer = (performance.now() - t0) / 1000;
  timings.sincePageStart = performance.now() / 1000;
  setStatus("ready");
  return { ...timings };
}

/** Boot once; resolves to timings in seconds (since boot start; sincePageStart from navigation). */
export function boot() {
  booting ??= doBoot().catch((error) => {
    setStatus(`boot failed: ${error}`);
    throw error;
  });
  return booting;
}

let shared = null;

function track(work) {
  const id = nextJob++;
  const job = { done: false, result: null };
  jobs.set(id, job);
  // Start on a later task: the caller's evaluate() must get the id back before Python may block
  // this thread (a busy loop would otherwise hang the evaluate, which has no timeout of its own).
  new Promise((resolve) => setTimeout(resolve, 0)).then(work).then(
    (value) => { job.result = value; },
    (error) => {
      const traceback = error?.type ? error.message : String(error?.stack ?? error);
      job.result = { ok: false, exit: 1, type: error?.type ?? "JavaScriptError", traceback };
    },
  ).finally(() => { job.done = true; });
  return id;
}

/** Start booting (once); returns a job id whose result holds the boot timings. */
export function startBoot() {
  return track(async () => ({ ok: true, exit: 0, value: await boot() }));
}

/** Start running Python source; returns a job id to poll with done() and collect with result().
 *  fresh: run in a new __main__ namespace (a script) instead of the page's shared one (a REPL). */
export function start(source, filename = "<exec>", fresh = false) {
  return track(async () => {
    await boot();
    if (!fresh) shared ??= helpers.get("new_namespace")();
    const globals = helpers.copy();
    globals.set("_source", source);
    globals.set("_filename", filename);
    if (fresh) {
      await pyodide.runPythonAsync("_namespace = new_namespace()", { globals });
    } else {
      globals.set("_namespace", shared);
    }
    try {
      const text = await pyodide.runPythonAsync("await run(_source, _filename, _namespace)", { globals });
      return JSON.parse(text);
    } finally {
      globals.destroy();
    }
  });
}

export function done(id) {
  return jobs.get(id)?.done ?? true;
}

export function result(id) {
  const job = jobs.get(id);
  jobs.delete(id);
  return job ? job.result : { ok: false, exit: 1, type: "HarnessError", traceback: `no job ${id}` };
}

/** The booted Pyodide instance (for probes and tests that need runPython directly). */
export function getPyodide() {
  return pyodide;
}
