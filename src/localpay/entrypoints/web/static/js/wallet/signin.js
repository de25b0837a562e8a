// The wallet's sign-in: with the key this device holds, answer the API's challenge.
import { loadWallet } from "./keys.js";
import { app, city, say, show, signInOrReason, text } from "./pages.js";

const held = await loadWallet(city);
show("device-wallet", held !== null);
show("no-wallet", held === null);
if (held !== null) {
  document.getElementById("device-wallet-id").textContent = held.wallet;
  const button = document.getElementById("sign-in");
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    say("sign-in-error", "");
    const reason = await signInOrReason(held.wallet, held.seed);
    if (reason === null) {
      window.location.assign(app);
      return;
    }
    say("sign-in-error", text(reason));
    button.disabled = false;
    button.removeAttribute("aria-busy");
  });
}
