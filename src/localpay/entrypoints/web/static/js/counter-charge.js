// The counter's dynamic QR: count its validity down (m:ss) and hide the code once the
// request is paid or expired. The status itself comes from the server (htmx polls
// .../status); this clock is only what the cashier and the customer see meanwhile, so
// at zero it asks the server at once instead of deciding anything itself.
// No text for people here: the words are the template's.

(function () {
  const box = document.getElementById("countdown");
  const shown = document.getElementById("countdown-left");
  if (!box || !shown) return;
  const end = Date.now() + Number.parseInt(box.dataset.left, 10) * 1000;

  function closed() {
    const status = document.getElementById("charge-status");
    return status && status.dataset.status !== "open";
  }

  function hideCode() {
    const qr = document.getElementById("charge-qr");
    if (qr) qr.hidden = true;
    box.hidden = true;
  }

  function tick() {
    if (closed()) {
      hideCode();
      return;
    }
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    shown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left === 0) {
      const status = document.getElementById("charge-status");
      if (status && window.htmx) {
        // Ask now rather than at the next poll.
        window.htmx.ajax("GET", status.getAttribute("hx-get"), { target: status, swap: "outerHTML" });
      }
      hideCode();
      return;
    }
    setTimeout(tick, 250);
  }

  document.body.addEventListener("htmx:afterSwap", () => {
    if (closed()) hideCode();
  });
  tick();
})();
