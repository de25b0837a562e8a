// Approving an online shop's order (wallet/checkout.html): sign a `hold` naming the shop,
// the amount, the checkout intent and the shop's order id with this device's wallet key
// (keys.js, through pending.js), post it to the API's approval route, then go back to the
// shop's return URL (the API answers it, with `intent` and `status` added). A refusal is
// told in plain words (GET .../why?code=, from the catalogs): this file holds no text.
//
// Never two holds for one approval: the signed envelope and its Idempotency-Key wait in
// sessionStorage (pending.js) until the API answers, so a double tap, a reload or a retry
// after "no answer" sends the same envelope and key. The ledger holds an intent at most
// once anyway (`intent_used`).
//
// Not signed in: if this device holds a wallet of the city, one button signs in with it
// (the API's key challenge) and reloads the page, which then shows the approval.

import { postCommand } from "./api.js";
import { loadWallet } from "./keys.js";
import { city, show, signInOrReason } from "./pages.js";
import { forget, prepare } from "./pending.js";

const KIND = "hold";

function answerBox() {
  return document.getElementById("pay-answer");
}

function showNodes(nodes) {
  const box = answerBox();
  box.replaceChildren(...nodes);
  box.setAttribute("tabindex", "-1");
  box.focus();
}

function showTemplate(id) {
  showNodes([document.getElementById(id).content.cloneNode(true)]);
}

async function showRefusal(intent, code) {
  const base = `/c/${encodeURIComponent(city)}/wallet/checkout/${encodeURIComponent(intent)}`;
  try {
    const response = await fetch(`${base}/why?code=${encodeURIComponent(code || "")}`, {
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok || response.redirected) {
      showTemplate("pay-msg-refused");
      return;
    }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text(); // our own server's partial (escaped by Jinja2)
    showNodes([holder]);
  } catch {
    showTemplate("pay-msg-network");
  }
}

let busy = false;

async function approve(box, button) {
  if (busy) return; // a double tap while the first is on its way
  busy = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const { wallet, merchant, intent, order } = box.dataset;
    const amount = Number.parseInt(box.dataset.amount, 10);
    const pending = await prepare(KIND, city, wallet, { merchant, amount, intent, order });
    if (!pending) {
      showTemplate("pay-msg-nokey");
      return;
    }
    showTemplate("pay-msg-sending");
    const url = `/v1/cities/${encodeURIComponent(city)}/checkout/intents/${encodeURIComponent(intent)}/approval`;
    const answer = await postCommand(url, pending.envelope, pending.idem);
    if (answer.network) {
      showTemplate("pay-msg-network"); // kept: the retry sends the same envelope and key
      return;
    }
    forget(KIND, city);
    if (answer.ok && answer.data && answer.data.redirect) {
      location.assign(answer.data.redirect);
      return;
    }
    await showRefusal(intent, answer.data && answer.data.code);
  } finally {
    busy = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-checkout-approve]");
  if (!button) return;
  approve(button.closest("[data-intent]"), button);
});

async function offerSignIn() {
  const signInButton = document.getElementById("checkout-sign-in");
  if (!signInButton) return; // signed in already: the approval is on the page
  const held = await loadWallet(city);
  show("device-wallet", held !== null);
  show("no-wallet", held === null);
  if (held === null) return;
  document.getElementById("device-wallet-id").textContent = held.wallet;
  signInButton.addEventListener("click", async () => {
    signInButton.disabled = true;
    signInButton.setAttribute("aria-busy", "true");
    show("sign-in-error", false);
    const reason = await signInOrReason(held.wallet, held.seed);
    if (reason === null) {
      location.reload();
      return;
    }
    show("sign-in-error", true);
    signInButton.disabled = false;
    signInButton.removeAttribute("aria-busy");
  });
}

offerSignIn();
