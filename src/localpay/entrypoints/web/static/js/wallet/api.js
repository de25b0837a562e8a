// Talking to the API (/v1) from the wallet pages, on this origin with the session cookie.
//
//   postCommand(url, envelope, idempotencyKey) -> Promise<{ok, status, data, network}>
//       POST a signed envelope as its canonical bytes with an Idempotency-Key. A retry
//       must pass the *same* envelope and key (the API answers it once); `network` is true
//       when no answer came (offline, server down): then the outcome is unknown, retry.
//   signIn(city, wallet, seed) -> Promise<{ok, status, data, network}>
//       challenge -> sign its "sign" hex -> session: the API sets the HttpOnly cookie.

import { canonical } from "./canonical.js";
import { publicKeyHex, signChallenge } from "./keys.js";

async function call(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", cache: "no-store", ...init });
  } catch {
    return { ok: false, status: 0, data: null, network: true };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  // 5xx and 429 are not answers: the command's fate is unknown until a retry gets one.
  const network = response.status >= 500 || response.status === 429;
  return { ok: response.ok, status: response.status, data, network };
}

export function postCommand(url, envelope, idempotencyKey) {
  return call(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Idempotency-Key": idempotencyKey },
    body: canonical(envelope),
  });
}

function postJson(url, value) {
  return call(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(value),
  });
}

export async function signIn(city, wallet, seed) {
  const base = `/v1/cities/${encodeURIComponent(city)}/wallets/${encodeURIComponent(wallet)}`;
  const challenge = await postJson(`${base}/challenges`, {});
  if (!challenge.ok) return challenge;
  const key = await publicKeyHex(seed);
  const signature = await signChallenge(seed, challenge.data.sign);
  return postJson(`${base}/sessions`, { nonce: challenge.data.nonce, key, signature });
}
