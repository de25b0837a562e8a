// The public explorer's pages: the supply chart (uPlot) and the receipt checker form.
// Both work from data the page carries (<script type="application/json">); the tables
// and the offline checker are the way without JavaScript.
import { verifyReceipt } from "/static/js/receipt-verify.js";

const json = (id) => {
  const el = document.getElementById(id);
  return el ? JSON.parse(el.textContent) : null;
};

// -- supply over time ---------------------------------------------------------------------

function drawSupply() {
  const box = document.getElementById("supply-chart");
  const data = json("supply-data");
  if (!box || !data || !window.uPlot) return;
  const { series, labels } = data;
  const seconds = series.dates.map((d) => Date.parse(`${d}T00:00:00+09:00`) / 1000);
  const won = (u, values) => values.map((v) => (v == null ? "" : `${Math.round(v).toLocaleString()}`));
  const opts = {
    width: Math.max(120, box.clientWidth),
    height: 260,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Asia/Seoul"),
    series: [
      {},
      { label: labels.minted, stroke: "#0b4fa8", width: 2 },
      { label: labels.burned, stroke: "#b00020", width: 2, dash: [6, 4] },
      { label: labels.outstanding, stroke: "#0a6b2d", width: 3 },
    ],
    axes: [{}, { values: won, size: 90 }],
  };
  const plot = new window.uPlot(
    opts,
    [seconds, series.minted, series.burned, series.outstanding],
    box,
  );
  new ResizeObserver(() => plot.setSize({ width: Math.max(120, box.clientWidth), height: 260 }))
    .observe(box);
}

// -- the receipt checker -------------------------------------------------------------------

function showChecks(words, result) {
  const verdict = document.getElementById("receipt-verdict");
  const list = document.getElementById("receipt-checks");
  list.replaceChildren();
  for (const check of result.checks) {
    const item = document.createElement("li");
    item.dataset.check = check.name;
    item.dataset.status = check.status;
    const status = document.createElement("strong");
    status.className = check.status === "ok" ? "ok" : check.status === "warn" ? "warn" : "error";
    status.textContent = words[`status_${check.status.toLowerCase()}`] || check.status;
    const name = document.createElement("span");
    name.textContent = ` ${words[check.name] || check.name}: `;
    const detail = document.createElement("span");
    detail.className = "detail";
    detail.lang = "en"; // the verifier's own words, as the offline checker prints them
    detail.textContent = check.detail;
    item.append(status, name, detail);
    list.append(item);
  }
  verdict.dataset.state = result.ok ? "ok" : "fail";
  verdict.className = result.ok ? "ok" : "error";
  verdict.textContent = result.ok ? words.ok : words.fail;
}

function fail(words, message) {
  const verdict = document.getElementById("receipt-verdict");
  document.getElementById("receipt-checks").replaceChildren();
  verdict.dataset.state = "fail";
  verdict.className = "error";
  verdict.textContent = message;
}

function wireReceiptForm() {
  const form = document.getElementById("receipt-form");
  if (!form) return;
  const pins = json("receipt-pins");
  const words = json("receipt-words");
  const text = document.getElementById("receipt-text");
  document.getElementById("receipt-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) text.value = await file.text();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let receipt;
    try {
      receipt = JSON.parse(text.value);
    } catch {
      fail(words, words.bad_json);
      return;
    }
    if (!(globalThis.crypto && crypto.subtle)) {
      fail(words, words.no_crypto);
      return;
    }
    showChecks(words, await verifyReceipt(receipt, pins));
    document.getElementById("receipt-verdict").focus?.();
  });
  form.dataset.ready = "1";
}

drawSupply();
wireReceiptForm();
