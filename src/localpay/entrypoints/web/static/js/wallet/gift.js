// Confirming a gift: the same signing and once-only sending as a payment (pay.js), as a
// `transfer` command to /v1/cities/{city}/transfers.

import { signAndSend } from "./pay.js";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-gift-confirm]");
  if (!button) return;
  const box = button.closest("[data-to]");
  const amount = Number.parseInt(box.dataset.amount, 10);
  signAndSend({
    kind: "transfer",
    city: box.dataset.city,
    wallet: box.dataset.wallet,
    fields: { to: box.dataset.to, amount },
    button,
  });
});
