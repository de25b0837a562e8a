// Restore: the seed from the recovery code, the wallet id from its key (ids derive from
// keys, so nothing is looked up) unless the citizen was given a number of its own (a
// wallet opened elsewhere, e.g. the demo's), then sign in; the key is kept on this device.
import { publicKeyHex, saveWallet, seedFromRecoveryCode, walletIdFor } from "./keys.js";
import { app, city, say, signInOrReason, text } from "./pages.js";

const form = document.getElementById("restore-form");
const input = document.getElementById("code");
const button = document.getElementById("restore");
const number = document.getElementById("wallet");

function refuse(message) {
  input.setAttribute("aria-invalid", "true");
  say("restore-error", message);
  button.disabled = false;
  button.removeAttribute("aria-busy");
  input.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  say("restore-error", "");
  input.removeAttribute("aria-invalid");
  let seed;
  try {
    seed = seedFromRecoveryCode(input.value);
  } catch (error) {
    if (error.name !== "RecoveryCodeError") throw error;
    return refuse(text(error.reason, { n: error.detail, c: error.detail }));
  }
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  const given = number.value.trim().toLowerCase();
  const wallet = given || walletIdFor(await publicKeyHex(seed));
  const reason = await signInOrReason(wallet, seed);
  if (reason !== null) return refuse(text(reason));
  await saveWallet(city, wallet, seed);
  window.location.assign(app);
});
