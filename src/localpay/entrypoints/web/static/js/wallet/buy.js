// Buying (구매/충전) and money back: sign order_purchase, cancel_purchase or refund_balance
// with this device's wallet key (keys.js), post it to the API (api.js), then go to the
// order's deposit instructions (or reload the purchases), or say in plain words why not.
//
// Never two orders for one intent: the signed envelope and its Idempotency-Key stay in
// sessionStorage until the API answers; a double tap, a reload or a retry after "no answer"
// sends the *same* envelope and key, which the API and the ledger answer once.
//
// The words shown come from the page (<template>s, GET .../buy/why and .../why, both from
// the catalogs): this file holds no text for people.

import { postCommand } from "./api.js";
import { canonical } from "./canonical.js";
import { forget, prepare } from "./pending.js";

const enc = encodeURIComponent;

function show(nodes) {
  const box = document.getElementById("buy-answer");
  box.replaceChildren(...nodes);
  box.setAttribute("tabindex", "-1");
  box.focus();
}

function showTemplate(id) {
  show([document.getElementById(id).content.cloneNode(true)]);
}

async function showPartial(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok || response.redirected) {
      showTemplate("buy-msg-refused");
      return;
    }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text(); // our own server's partial (escaped by Jinja2)
    show([holder]);
  } catch {
    showTemplate("buy-msg-network");
  }
}

let busy = false;

// An order carries the waiting room's ticket (X-Queue-Ticket) during a sale opening.
async function postWithTicket(url, envelope, idempotencyKey, ticket) {
  if (!ticket) return postCommand(url, envelope, idempotencyKey);
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "Idempotency-Key": idempotencyKey, "X-Queue-Ticket": ticket },
      body: canonical(envelope),
    });
  } catch {
    return { ok: false, status: 0, data: null, network: true };
  }
  const data = await response.json().catch(() => null);
  const network = response.status >= 500 || response.status === 429;
  return { ok: response.ok, status: response.status, data, network };
}

async function signAndSend({ kind, city, wallet, fields, url, button, done, refused, ticket }) {
  if (busy) return; // a double tap while the first is on its way
  busy = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const pending = await prepare(kind, city, wallet, fields);
    if (!pending) {
      showTemplate("buy-msg-nokey");
      return;
    }
    showTemplate("buy-msg-sending");
    const answer = await postWithTicket(url, pending.envelope, pending.idem, ticket);
    if (answer.network) {
      showTemplate("buy-msg-network"); // kept: the retry sends the same envelope and key
      return;
    }
    forget(kind, city);
    if (answer.ok && answer.data && answer.data.id) {
      done(answer.data);
      return;
    }
    await refused(answer.data || {});
  } finally {
    busy = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function buy(button) {
  const box = button.closest("[data-program]");
  const city = box.dataset.city;
  const base = `/c/${enc(city)}/wallet`;
  signAndSend({
    kind: "order_purchase",
    city,
    wallet: box.dataset.wallet,
    fields: { program: box.dataset.program, amount: Number.parseInt(box.dataset.amount, 10) },
    url: `/v1/cities/${enc(city)}/sales/orders`,
    ticket: box.dataset.ticket || "",
    button,
    done: (data) => location.assign(`${base}/buy/orders/${enc(data.id)}`),
    refused: (data) => {
      const room = data.room === undefined ? "" : `&limit=${enc(data.limit)}&room=${enc(data.room)}`;
      return showPartial(`${base}/buy/why?code=${enc(data.code || "")}${room}`);
    },
  });
}

function moneyBack(button) {
  const box = button.closest("[data-purchase]");
  const city = box.dataset.city;
  const kind = button.dataset.moneyBack;
  const path = kind === "cancel_purchase" ? "cancellations" : "refunds";
  signAndSend({
    kind,
    city,
    wallet: box.dataset.wallet,
    fields: { purchase: box.dataset.purchase },
    url: `/v1/cities/${enc(city)}/sales/${path}`,
    button,
    done: () => location.reload(),
    refused: (data) => showPartial(`/c/${enc(city)}/wallet/why?code=${enc(data.code || "")}`),
  });
}

function pick(button) {
  const input = document.getElementById("amount");
  input.value = button.dataset.quickPick;
  input.dispatchEvent(new Event("input", { bubbles: true })); // htmx updates the preview
  input.focus();
}

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-buy-confirm], [data-money-back], [data-quick-pick]");
  if (!target) return;
  if (target.matches("[data-buy-confirm]")) buy(target);
  else if (target.matches("[data-money-back]")) moneyBack(target);
  else pick(target);
});
