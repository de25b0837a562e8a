// The one-time payment code (변동형 QR + barcode): made, signed and shown on this device.
//
//   randomDigits(n = 20) -> string of n uniformly random decimal digits
//   codeHash(city, digits) -> Promise<64 hex>  SHA-256 of "localpay/code/v1\n" + city + "\n" + digits
//
// 1. 20 random digits (digits only: every POS barcode scanner reads them as Code 128).
// 2. A PresentCode {wallet, code: codeHash(...), cap} signed with this device's key and
//    posted to /v1/cities/{city}/presented-codes: the chain learns the hash, never the digits.
// 3. The digits go in a POST body to .../wallet/code/render, which answers the QR and the
//    barcode drawn (no URL ever holds them: URLs are logged), and the page shows them.
// 4. The page polls the code's state by its hash until a shop captured it (used: amount,
//    shop, receipt) or its 3 minutes are over (expired: a button for a new code).
//
// The words shown come from the page (server-rendered <template>s and partials): this
// file holds no text for people.

import { postCommand } from "./api.js";
import { bytesToHex, loadWallet, newCommandId, signCommand } from "./keys.js";

const DIGITS = 20;
const PREFIX = "localpay/code/v1\n";

export function randomDigits(n = DIGITS) {
  // Rejection sampling: bytes 250..255 would make 0..5 a little likelier than 6..9.
  let out = "";
  while (out.length < n) {
    for (const byte of crypto.getRandomValues(new Uint8Array(n))) {
      if (byte < 250 && out.length < n) out += String(byte % 10);
    }
  }
  return out;
}

export async function codeHash(city, digits) {
  const data = new TextEncoder().encode(PREFIX + city + "\n" + digits);
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
  } catch {
    return "";
  }
}

const $ = (id) => document.getElementById(id);

function say(templateId, where = $("code-answer")) {
  where.replaceChildren($(templateId).content.cloneNode(true));
}

function partial(html) {
  const holder = document.createElement("div");
  holder.innerHTML = html; // our own server's partial (escaped by Jinja2)
  return holder;
}

function wholeWon(text) {
  const clean = String(text).replace(/[,\s원₩]/g, "");
  if (!/^[1-9][0-9]{0,11}$/.test(clean)) return null;
  return Number.parseInt(clean, 10);
}

// -- one code's life ---------------------------------------------------------------------

const maker = $("code-maker");
const city = maker.dataset.city;
const wallet = maker.dataset.wallet;
const pollMs = Number.parseInt(maker.dataset.pollMs, 10) || 2000;
const base = `/c/${encodeURIComponent(city)}/wallet/code`;

let current = null; // {digits, hash, envelope, idem, deadline, timer, poller}
let busy = false;

function stop() {
  if (!current) return;
  clearInterval(current.timer);
  clearTimeout(current.poller);
  current.digits = null; // the code is not kept once it can no longer be used
}

function showLeft() {
  const left = Math.max(0, current.deadline - Date.now());
  const seconds = Math.ceil(left / 1000);
  $("code-left").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  if (left === 0) {
    // Over by this clock: ask the server now, whose answer (used or expired) ends it.
    clearInterval(current.timer);
    clearTimeout(current.poller);
    poll(current);
  }
}

function finish(stateNode) {
  // Used or expired: the code leaves the screen, the outcome takes its place.
  stop();
  $("code-images").replaceChildren();
  $("code-timer").hidden = true;
  const box = $("code-state");
  box.replaceChildren(stateNode);
  if (box.querySelector("[data-state=expired]")) {
    box.append($("code-new").content.cloneNode(true));
  }
  box.setAttribute("tabindex", "-1");
  box.focus();
}

async function poll(code) {
  if (current !== code || code.digits === null) return;
  try {
    const response = await fetch(`${base}/${code.hash}`, { credentials: "same-origin", cache: "no-store" });
    if (response.ok && !response.redirected && current === code) {
      const node = partial(await response.text()).firstElementChild;
      const state = node && node.dataset.state;
      if (state === "used" || state === "expired") {
        finish(node);
        return;
      }
      if (state === "open") {
        // The server's clock decides: the countdown follows the time it says is left.
        code.deadline = Date.now() + Number.parseInt(node.dataset.leftMs, 10);
        clearInterval(code.timer);
        code.timer = setInterval(showLeft, 250);
        $("code-state").replaceChildren(node);
      }
    }
  } catch {
    // No answer this time: ask again at the next tick (the countdown goes on).
  }
  if (current === code && code.digits !== null) code.poller = setTimeout(() => poll(code), pollMs);
}

async function draw(code) {
  const response = await fetch(`${base}/render`, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrfToken() },
    body: new URLSearchParams({ digits: code.digits }),
  });
  if (!response.ok) throw new Error(`render ${response.status}`);
  $("code-images").replaceChildren(...partial(await response.text()).childNodes);
}

async function send(code) {
  say("code-msg-sending");
  const answer = await postCommand(`/v1/cities/${encodeURIComponent(city)}/presented-codes`, code.envelope, code.idem);
  if (answer.network) {
    say("code-msg-network"); // the retry sends the same envelope and key: one code
    return;
  }
  if (!answer.ok) {
    say("code-msg-refused");
    return;
  }
  await draw(code);
  $("code-answer").replaceChildren();
  maker.hidden = true;
  $("code-box").hidden = false;
  $("code-timer").hidden = false;
  $("code-state").replaceChildren();
  code.timer = setInterval(showLeft, 250);
  showLeft();
  $("code-box").setAttribute("tabindex", "-1");
  $("code-box").focus();
  code.poller = setTimeout(() => poll(code), pollMs);
}

async function make(cap) {
  const device = await loadWallet(city);
  if (!device || device.wallet !== wallet) {
    say("code-msg-nokey");
    return;
  }
  stop();
  const digits = randomDigits();
  const hash = await codeHash(city, digits);
  const body = { type: "present_code", id: newCommandId(), city, wallet, code: hash, cap };
  const envelope = await signCommand(device.seed, body);
  current = { digits, hash, cap, envelope, idem: newCommandId(), deadline: 0, timer: 0, poller: 0 };
  // The countdown starts once the ledger took the code; until then a full 3 minutes.
  current.deadline = Date.now() + 180_000;
  await send(current);
}

async function guarded(work) {
  if (busy) return; // a double tap while the first is on its way
  busy = true;
  try {
    await work();
  } catch {
    say("code-msg-network");
  } finally {
    busy = false;
  }
}

const form = $("code-form");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("cap");
    const cap = wholeWon(input ? input.value : maker.dataset.balance);
    if (cap === null) {
      say("code-msg-cap");
      return;
    }
    guarded(() => make(cap));
  });
}

document.addEventListener("click", (event) => {
  if (event.target.closest("[data-code-retry]") && current && current.digits) {
    guarded(() => send(current));
  } else if (event.target.closest("[data-new-code]") && current) {
    const cap = current.cap;
    guarded(() => make(cap));
  }
});
