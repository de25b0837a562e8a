// Sign-up: make the key here, have the citizen write down and check the recovery code,
// then open the wallet (a signed open_wallet to the API) and sign in.
import { postCommand } from "./api.js";
import {
  forgetWallet, loadWallet, newCommandId, newSeed, publicKeyHex, recoveryCode, saveWallet,
  signCommand, walletIdFor,
} from "./keys.js";
import { app, city, say, show, signInOrReason, text } from "./pages.js";

const GROUPS = 14;
const seed = newSeed();
const groups = recoveryCode(seed).split(" ");
let asked = 0;

if ((await loadWallet(city)) !== null) show("replaces");

const list = document.getElementById("recovery-code");
for (const [i, group] of groups.entries()) {
  const item = document.createElement("li");
  item.setAttribute("aria-label", `${text("group", { n: i + 1 })}: ${group.split("").join(" ")}`);
  const number = document.createElement("span");
  number.className = "n";
  number.setAttribute("aria-hidden", "true");
  number.textContent = String(i + 1);
  const letters = document.createElement("span");
  letters.className = "g";
  letters.setAttribute("aria-hidden", "true");
  letters.textContent = group;
  item.append(number, letters);
  list.append(item);
}
show("step-code");

function askForGroup() {
  asked = 1 + (crypto.getRandomValues(new Uint8Array(1))[0] % GROUPS);
  document.getElementById("check-label").textContent = text("check_label", { n: asked });
  say("check-error", "");
  const input = document.getElementById("check-group");
  input.value = "";
  input.removeAttribute("aria-invalid");
  show("step-code", false);
  show("step-check");
  input.focus();
}

document.getElementById("wrote-it").addEventListener("click", askForGroup);
document.getElementById("show-again").addEventListener("click", () => {
  show("step-check", false);
  show("step-code");
  document.getElementById("wrote-it").focus();
});

// As the recovery code itself reads it: any case, O for 0, I and L for 1, spaces ignored.
const tidy = (typed) =>
  typed.toUpperCase().replace(/[\s-]+/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");

document.getElementById("check-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("check-group");
  if (tidy(input.value) !== groups[asked - 1]) {
    input.setAttribute("aria-invalid", "true");
    say("check-error", text("check_wrong", { n: asked }));
    input.focus();
    return;
  }
  show("step-check", false);
  show("step-open");
  openWallet();
});

// The number is someone else's: `account_exists`, or - as the ledger answers an
// open_wallet of a taken id signed by a new key, which it does not record -
// `unknown_signer` (docs/encoding.md, "Who may put a rejection on the chain").
const TAKEN = new Set(["account_exists", "unknown_signer"]);

// The one command of this sign-up, made once: a retry sends these very bytes and key.
let pending = null;

async function prepare() {
  const key = await publicKeyHex(seed);
  const wallet = walletIdFor(key);
  const body = { type: "open_wallet", id: newCommandId(), city, wallet, keys: [key], custodial: false };
  const envelope = await signCommand(seed, body);
  // Kept on the device before it is sent: an answer lost on the way must not lose the key.
  await saveWallet(city, wallet, seed);
  return { wallet, key, envelope, idempotencyKey: crypto.randomUUID() };
}

async function openWallet() {
  const retry = document.getElementById("retry");
  retry.hidden = true;
  say("open-error", "");
  say("open-status", text("opening"));
  if (pending === null) pending = await prepare();
  const url = `/v1/cities/${encodeURIComponent(city)}/wallets`;
  const answer = await postCommand(url, pending.envelope, pending.idempotencyKey);
  if (answer.ok) return signInAfterOpening();
  say("open-status", "");
  if (answer.network) {
    say("open-error", text("network"));
    retry.hidden = false;
    retry.focus();
    return;
  }
  const code = (answer.data && answer.data.code) || String(answer.status);
  say("open-error", TAKEN.has(code) ? text("exists") : text("refused", { reason: code }));
  await forgetWallet(city); // this key opened nothing
  show("start-over");
}

async function signInAfterOpening() {
  say("open-status", text("signing_in"));
  const reason = await signInOrReason(pending.wallet, seed);
  if (reason === null) {
    window.location.assign(app);
    return;
  }
  say("open-status", "");
  // The wallet is open; "Try again" re-sends the same command (answered as a duplicate)
  // and signs in again.
  say("open-error", text(reason === "network" ? "network" : "no_wallet"));
  document.getElementById("retry").hidden = false;
}

document.getElementById("retry").addEventListener("click", openWallet);
