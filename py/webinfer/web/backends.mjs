// The backend picker's data comes from Python: webinfer.backends.page_report() reads the one description
// of each backend (name, title, availability and why not) and makes the `auto` choice. Nothing is restated here.

/** Python source whose value is the page report's JSON text. */
export const PAGE_REPORT = "import webinfer.backends\nwebinfer.backends.page_report_json()";

/**
 * { support: {name: {ok, note, title}}, names, chosen } from a page report: `asked` (a URL parameter)
 * when that backend is available, else the report's `auto` choice. `support.fallbackAdapter` is true when
 * WebGPU runs on a software adapter.
 */
export function choices(report, asked = null) {
  const support = {};
  for (const b of report.backends) support[b.name] = { ok: b.available, note: b.note, title: b.title };
  support.fallbackAdapter = Boolean(report.webgpu_adapter?.software);
  const chosen = asked && support[asked]?.ok ? asked : report.auto.backend;
  return { support, names: report.backends.map((b) => b.name), chosen };
}
