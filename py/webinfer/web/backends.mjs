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

/**
 * Fill `box` with one radio button per backend name: unavailable (or failed) ones greyed out with the reason.
 * `support` comes from choices(); clicking an available one calls onPick(name).
 */
export function renderPicker(box, names, support, chosen, onPick) {
  box.replaceChildren();
  for (const name of names) {
    const s = support[name];
    const button = document.createElement("button");
    button.type = "button";
    button.role = "radio";
    button.className = "backend";
    button.dataset.backend = name;
    button.disabled = !s.ok;
    button.title = s.note;
    button.setAttribute("aria-checked", String(name === chosen));
    button.innerHTML = `<span class="name"></span><span class="note"></span>`;
    button.querySelector(".name").textContent = s.title ?? name;
    button.querySelector(".note").textContent = s.note;
    button.addEventListener("click", () => onPick(name));
    box.append(button);
  }
}

/** Mark backend `name` as failed in `support` (the picker greys it out), with the error's last line. */
export function markFailed(support, name, error) {
  const line = String(error?.message ?? error).split("\n").filter(Boolean).pop();
  support[name] = { ...support[name], ok: false, note: `failed: ${line}` };
}
