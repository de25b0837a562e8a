// The refund account (환불받을 계좌): sign the request with this device's wallet key
// (keys.js) and PUT it to the API, then reload to show the account masked; or say in
// plain words why not. The signature is Ed25519 over the UTF-8 of
//   "localpay/payout-account/v1\n{city}\n{wallet}\n{bank}\n{number}\n{holder}\n{at_ms}"
// with the fields exactly as sent (services/settlement/wallet_accounts.py checks it).
//
// A retry after "no answer" signs afresh: the account is a state, not a movement of
// money, so the same account twice is one account. The words shown come from the page's
// <template>s: this file holds no text for people.

import { bytesToHex, loadWallet, signChallenge } from "./keys.js";

const enc = encodeURIComponent;

function show(id) {
  const box = document.getElementById("ra-answer");
  const found = document.getElementById(`ra-msg-${id}`) || document.getElementById("ra-msg-refused");
  box.replaceChildren(found.content.cloneNode(true));
  box.setAttribute("tabindex", "-1");
  box.focus();
}

export function message(city, wallet, bank, number, holder, atMs) {
  const text = ["localpay/payout-account/v1", city, wallet, bank, number, holder, String(atMs)].join("\n");
  return new TextEncoder().encode(text);
}

async function put(url, body) {
  try {
    const response = await fetch(url, {
      method: "PUT",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    const network = response.status >= 500 || response.status === 429;
    return { ok: response.ok, data, network };
  } catch {
    return { ok: false, data: null, network: true };
  }
}

let busy = false;

async function save(form) {
  if (busy) return; // a double tap while the first is on its way
  const city = form.dataset.city;
  const wallet = form.dataset.wallet;
  const held = await loadWallet(city);
  if (!held || held.wallet !== wallet) {
    show("nokey");
    return;
  }
  const bank = form.elements.bank.value;
  const number = form.elements.number.value.trim();
  const holder = form.elements.holder.value.trim().normalize("NFC");
  if (!bank || !number || !holder) {
    show("invalid_account");
    return;
  }
  busy = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    show("sending");
    const atMs = Date.now();
    const sig = await signChallenge(held.seed, bytesToHex(message(city, wallet, bank, number, holder, atMs)));
    const url = `/v1/cities/${enc(city)}/wallets/${enc(wallet)}/payout-account`;
    const answer = await put(url, { bank, number, holder, at_ms: atMs, key: held.key, sig });
    if (answer.network) show("network");
    else if (answer.ok) location.reload();
    else show((answer.data && answer.data.code) || "refused");
  } finally {
    busy = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

const form = document.getElementById("refund-account-form");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save(form);
  });
}
