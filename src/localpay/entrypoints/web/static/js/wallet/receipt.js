// The receipt page checks the receipt's proof in the browser (receipt-verify.js) against
// the city's keys the page carries (its genesis operator key and witness set), and shows
// "verified" or the check that failed. Words come from the page's <template>s.

import { verifyReceipt } from "/static/js/receipt-verify.js";

function words(id) {
  const found = document.getElementById(id);
  return found ? found.content.cloneNode(true) : document.createTextNode(id);
}

async function check() {
  const status = document.getElementById("verify-status");
  const list = document.getElementById("verify-checks");
  let result;
  try {
    const receipt = JSON.parse(document.getElementById("receipt-proof").textContent);
    const pins = JSON.parse(document.getElementById("receipt-pins").textContent);
    result = await verifyReceipt(receipt, pins);
  } catch {
    status.replaceChildren(words("verify-error"));
    status.dataset.verified = "error";
    return;
  }
  status.replaceChildren(words(result.ok ? "verify-ok" : "verify-failed"));
  status.dataset.verified = result.ok ? "ok" : "failed";
  status.classList.toggle("notice", false);
  list.replaceChildren(
    ...result.checks.map((c) => {
      const item = document.createElement("li");
      item.dataset.check = c.name;
      item.dataset.status = c.status || (c.ok ? "ok" : "FAIL");
      // A warning (e.g. no witness set pinned: finality not checked) is not a pass.
      const warned = c.status === "warn";
      item.className = warned ? "warn" : c.ok ? "ok" : "error";
      item.append(words(`check-${c.name}`), `: ${warned ? "!" : c.ok ? "✓" : "✗"} `);
      if ((warned || !c.ok) && c.detail) {
        const detail = document.createElement("code");
        detail.textContent = c.detail;
        item.append(detail);
      }
      return item;
    }),
  );
  // A failed or warned check is not hidden in senior mode: it is what matters.
  const warned = result.checks.some((c) => c.status === "warn");
  if (result.ok && warned) status.append(" ", words("verify-warned"));
  if (!result.ok || warned) list.classList.remove("senior-hide");
}

check();
