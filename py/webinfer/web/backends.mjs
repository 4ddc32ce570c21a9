// Which webinfer browser backends this browser can run, from devices.mjs's probe(): for the backend
// pickers of the demo and the REPL. Each backend gets { ok, note }: a short description, or why not.

export const BACKENDS = ["webgpu", "webnn", "hybrid"];

/** { webgpu, webnn, hybrid: { ok, note }, fallbackAdapter } from a probe() report. */
export function supportOf(report) {
  const gpu = report.webgpu ?? {};
  const nn = report.webnn ?? {};
  const adapter = gpu.adapter ?? {};
  const gpuName = [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(" ") || "adapter";
  const contexts = Object.entries(nn.contexts ?? {}).filter(([name, c]) => c.created && name !== "default" && name !== "gpuDevice");
  const support = {
    webgpu: gpu.available ? { ok: true, note: gpuName + (adapter.isFallbackAdapter ? " (software)" : "") }
                          : { ok: false, note: gpu.error ?? "no WebGPU" },
    webnn: nn.available ? { ok: true, note: contexts.length ? `${contexts.map(([n]) => n).join(", ")} contexts` : "default context" }
                        : { ok: false, note: nn.error ?? nn.contexts?.default?.error ?? "no WebNN" },
  };
  support.hybrid = support.webgpu.ok && support.webnn.ok ? { ok: true, note: "WebNN + WebGPU" }
    : { ok: false, note: `needs WebGPU and WebNN (${support.webgpu.ok ? "no WebNN" : "no WebGPU"})` };
  support.fallbackAdapter = Boolean(adapter.isFallbackAdapter);
  return support;
}

/** The backend to start with: `asked` if it works; WebGPU on a real adapter; else WebNN; else WebGPU. */
export function pickBackend(support, asked = null) {
  if (asked && support[asked]?.ok) return asked;
  if (support.webgpu.ok && !support.fallbackAdapter) return "webgpu";
  return support.webnn.ok ? "webnn" : support.webgpu.ok ? "webgpu" : null;
}
