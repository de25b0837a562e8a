// What the wallet's own pages share: their city, their texts (translated by the server
// into a JSON block, so no text is baked into scripts), showing an error, signing in.

import { signIn } from "./api.js";

export const city = document.querySelector('meta[name="localpay-city"]').content;
export const app = document.querySelector('meta[name="localpay-app"]').content;

const block = document.getElementById("wallet-text");
const texts = block ? JSON.parse(block.textContent) : {};

export function text(name, vars = {}) {
  let found = texts[name] || name;
  for (const [key, value] of Object.entries(vars)) found = found.replaceAll(`%(${key})s`, value);
  return found;
}

export function show(id, on = true) {
  document.getElementById(id).hidden = !on;
}

export function say(id, message) {
  const where = document.getElementById(id);
  where.textContent = message;
  where.hidden = !message;
}

// Why a sign-in failed ("network", "no_wallet", "refused"); null when it worked.
export async function signInOrReason(wallet, seed) {
  const answer = await signIn(city, wallet, seed);
  if (answer.ok) return null;
  if (answer.network) return "network";
  return answer.status === 404 ? "no_wallet" : "refused";
}
