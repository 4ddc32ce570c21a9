// What the demo pages (search, classify) share: Python calls one at a time in a namespace of their own, the
// progress bar and error box (elements #bar-fill, #progress-text, #error), the "booting · downloading" line, the
// weights fact, the boot, and number formats. Each page's state object mirrors what they show (phase, error).

import { loadConfig, loadWebinfer } from "./boot.mjs";

export const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
export const ms = (x) => (x == null ? "–" : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`);

/**
 * A function running Python source (top-level await allowed) in a fresh namespace of `pyodide`, one call at a
 * time, after setting `args` as globals; a JSON string result comes back parsed. `.ns` is the namespace.
 */
export function pythonRunner(pyodide) {
  const ns = pyodide.toPy({});
  let queue = Promise.resolve();
  const py = (code, args = {}) => {
    const run = queue.then(async () => {
      for (const [key, value] of Object.entries(args)) ns.set(key, value);
      const out = await pyodide.runPythonAsync(code, { globals: ns });
      return typeof out === "string" ? JSON.parse(out) : out;
    });
    queue = run.catch(() => {});
    return run;
  };
  py.ns = ns;
  return py;
}

/** The progress bar and the error box; while Pyodide boots and the files download (at once) the bar shows both. */
export function statusBar(state) {
  const $ = (id) => document.getElementById(id);
  const loading = { boot: "starting", booted: 0, download: "", fetched: 0 };
  const progress = (fraction, text) => {
    $("bar-fill").style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
    $("progress-text").textContent = text;
    state.phase = text;
  };
  return {
    loading,
    progress,
    showLoading: () => progress(0.3 * loading.booted + 0.5 * loading.fetched,
      [loading.boot, loading.download].filter(Boolean).join(" · ")),
    showError: (error) => {
      const text = String(error?.message ?? error);
      state.error = text;
      $("error").textContent = text;
      $("error").hidden = false;
    },
    hideError: () => {
      state.error = null;
      $("error").hidden = true;
    },
  };
}

/** The weights fact from a fetchFiles() result: size, time, and what the Cache API did. */
export function weightsFact(got) {
  const how = !got.cache ? " (no Cache API here: not a secure context)"
    : got.cachedBytes ? ` (${mb(got.cachedBytes)} from the Cache API)` : " (now in the Cache API)";
  return `${mb(got.bytes)} in ${got.seconds.toFixed(1)} s, alongside the boot${how}`;
}

/**
 * Start booting Pyodide + webinfer (its steps on the status bar), after checking for JSPI.
 * Resolves to { config, booting (a promise of loadWebinfer's result), t0 (when the boot started) }.
 */
export async function startBoot(status) {
  if (typeof WebAssembly.Suspending !== "function") {
    status.showError("This browser lacks JS Promise Integration (JSPI), which webinfer's synchronous calls need: use Chrome/Edge 137+.");
  }
  status.loading.boot = "loading Pyodide…";
  status.showLoading();
  const config = await loadConfig();
  const t0 = performance.now();
  const booting = loadWebinfer({
    config,
    stdout: (text) => console.log(text),
    stderr: (text) => console.warn(text),
    onStep: (step) => { status.loading.boot = `${step}…`; status.showLoading(); },
  });
  booting.catch(() => {}); // reported where it is awaited
  return { config, booting, t0 };
}
