// Confirming a payment (and, through signAndSend, a gift): sign the command with this
// device's wallet key (keys.js), post it to the API (api.js), then go to its receipt or
// say in plain words why it was refused.
//
//   signAndSend({kind, city, wallet, fields, url, button}) -> Promise<void>
//       kind "pay" | "transfer"; fields: the command's own fields (merchant or to, amount).
//
// Never two payments for one intent: the signed envelope and its Idempotency-Key stay in
// sessionStorage until the API answers (201 or a refusal). A double tap, a reload or a
// retry after "no answer" sends the *same* envelope and key, which the API and the ledger
// answer once. A new id is made only for a payment not yet pending (another shop or amount).
//
// The words shown come from the page (server-rendered <template>s and GET .../why?code=,
// both from the catalogs): this file holds no text for people.

import { postCommand } from "./api.js";
import { forget, prepare } from "./pending.js";

const ROUTES = { pay: "payments", transfer: "transfers" };

function answerBox() {
  return document.getElementById("pay-answer");
}

function show(nodes) {
  const box = answerBox();
  box.replaceChildren(...nodes);
  box.setAttribute("tabindex", "-1");
  box.focus();
}

function showTemplate(id) {
  show([document.getElementById(id).content.cloneNode(true)]);
}

async function showRefusal(city, code, kind) {
  const of = kind === "transfer" ? "&of=gift" : "";
  const url = `/c/${encodeURIComponent(city)}/wallet/why?code=${encodeURIComponent(code || "")}${of}`;
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok || response.redirected) {
      // No longer signed in (sent to the sign-in page) or no answer: the general words.
      showTemplate("pay-msg-refused");
      return;
    }
    const html = await response.text();
    const holder = document.createElement("div");
    holder.innerHTML = html; // our own server's partial (escaped by Jinja2)
    show([holder]);
  } catch {
    showTemplate("pay-msg-network");
  }
}

let busy = false;

export async function signAndSend({ kind, city, wallet, fields, button }) {
  if (busy) return; // a double tap while the first is on its way
  busy = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const pending = await prepare(kind, city, wallet, fields, { evidence: "" });
    if (!pending) {
      showTemplate("pay-msg-nokey");
      return;
    }
    showTemplate("pay-msg-sending");
    const url = `/v1/cities/${encodeURIComponent(city)}/${ROUTES[kind]}`;
    const answer = await postCommand(url, pending.envelope, pending.idem);
    if (answer.network) {
      showTemplate("pay-msg-network"); // kept: the retry sends the same envelope and key
      return;
    }
    forget(kind, city);
    if (answer.ok && answer.data && answer.data.id) {
      location.assign(`/c/${encodeURIComponent(city)}/wallet/receipts/${answer.data.id}`);
      return;
    }
    await showRefusal(city, answer.data && answer.data.code, kind);
  } finally {
    busy = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-pay-confirm]");
  if (!button) return;
  const box = button.closest("[data-merchant]");
  const amount = Number.parseInt(box.dataset.amount, 10);
  signAndSend({
    kind: "pay",
    city: box.dataset.city,
    wallet: box.dataset.wallet,
    fields: { merchant: box.dataset.merchant, amount },
    button,
  });
});
