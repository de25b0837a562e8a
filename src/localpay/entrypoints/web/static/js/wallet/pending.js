// One signed command per intent (pay.js, buy.js): the envelope and its Idempotency-Key
// wait in sessionStorage until the API answers, so a double tap, a reload or a retry after
// "no answer" sends the *same* envelope and key, which the API and the ledger answer once.
//
//   prepare(kind, city, wallet, fields, extra) -> {wallet, fields, idem, envelope} | null
//       the pending command of this kind for the same wallet and fields, else a new one
//       signed with this device's key (null: this device holds another wallet's key).
//       `extra`: fields of the command that are not part of the intent (a pay's evidence).
//   forget(kind, city): forget it, once the API answered.

import { loadWallet, newCommandId, signCommand } from "./keys.js";

const slotKey = (kind, city) => `localpay.pending.${kind}.${city}`;

function pendingFor(key, wallet, fields) {
  try {
    const found = JSON.parse(sessionStorage.getItem(key) || "null");
    const same = found && found.wallet === wallet && JSON.stringify(found.fields) === JSON.stringify(fields);
    return same ? found : null;
  } catch {
    return null;
  }
}

export async function prepare(kind, city, wallet, fields, extra = {}) {
  const key = slotKey(kind, city);
  const pending = pendingFor(key, wallet, fields);
  if (pending) return pending;
  const device = await loadWallet(city);
  if (!device || device.wallet !== wallet) return null;
  const body = { type: kind, id: newCommandId(), city, wallet, ...fields, ...extra };
  const made = { wallet, fields, idem: newCommandId(), envelope: await signCommand(device.seed, body) };
  sessionStorage.setItem(key, JSON.stringify(made));
  return made;
}

export function forget(kind, city) {
  sessionStorage.removeItem(slotKey(kind, city));
}
