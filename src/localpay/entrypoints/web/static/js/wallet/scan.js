// Scan a shop's QR code and pay it.
//
// 1. The picture -> the code's text: the camera (getUserMedia) or a chosen photo, decoded
//    by the browser's own BarcodeDetector when it reads QR codes, otherwise by the vendored
//    barcode-detector ponyfill over zxing-wasm (its .wasm served by us, never a CDN; see
//    static/vendor/VENDOR.md). `?decoder=ponyfill` forces the ponyfill (tests).
// 2. The text goes to the server (#scan-form, htmx: POST .../wallet/scan/read), which
//    checks the city's signature and renders the shop, the badge and the preview: this
//    file decides nothing about a code.
// 3. Pay: sign a Pay with this device's key (pending.js: the same envelope and
//    Idempotency-Key on a retry) and post it, a dynamic code's to its request
//    (/qr/requests/{reference}/pay, evidence "qr:<reference>"), a static code's to
//    /payments; then the receipt page, or the refusal in the page's words.
//
// No text for people here: every word is a <template> of the page.

import { postCommand } from "./api.js";
import { forget, prepare } from "./pending.js";

const PONYFILL = "/static/vendor/barcode-detector/ponyfill.js";
const WASM = "/static/vendor/zxing-wasm/zxing_reader.wasm";
const SCAN_EVERY_MS = 300;

// -- messages ------------------------------------------------------------------------------

function say(id) {
  const box = document.getElementById("scan-message");
  box.replaceChildren(id ? document.getElementById(id).content.cloneNode(true) : "");
}

function showAnswer(nodes) {
  const box = document.getElementById("pay-answer");
  box.replaceChildren(...nodes);
  box.setAttribute("tabindex", "-1");
  box.focus();
}

function answerTemplate(id) {
  showAnswer([document.getElementById(id).content.cloneNode(true)]);
}

// -- decoding ------------------------------------------------------------------------------

let made = null;

function detector() {
  if (!made) made = makeDetector();
  return made;
}

async function makeDetector() {
  const forced = new URLSearchParams(location.search).get("decoder") === "ponyfill";
  if (!forced && "BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) return new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      // fall through to the ponyfill
    }
  }
  const ponyfill = await import(PONYFILL);
  ponyfill.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path),
    },
  });
  return new ponyfill.BarcodeDetector({ formats: ["qr_code"] });
}

async function decode(source) {
  const found = await (await detector()).detect(source);
  const code = found.find((c) => c.rawValue);
  return code ? code.rawValue : null;
}

function read(payload) {
  document.getElementById("scan-payload").value = payload;
  document.getElementById("scan-form").requestSubmit();
}

// -- a photo -------------------------------------------------------------------------------

async function fromFile(file) {
  say("scan-msg-reading");
  try {
    const bitmap = await createImageBitmap(file);
    const payload = await decode(bitmap);
    bitmap.close();
    if (!payload) {
      say("scan-msg-none");
      return;
    }
    say(null);
    read(payload);
  } catch {
    say("scan-msg-none");
  }
}

// -- the camera ----------------------------------------------------------------------------

let stream = null;
let timer = null;

function stopCamera() {
  clearTimeout(timer);
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  document.getElementById("scan-video").hidden = true;
  document.getElementById("scan-stop").hidden = true;
}

async function startCamera() {
  const video = document.getElementById("scan-video");
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
  } catch {
    say("scan-msg-nocamera");
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  document.getElementById("scan-stop").hidden = false;
  await video.play();
  say(null);
  const look = async () => {
    if (!stream) return;
    let payload = null;
    try {
      payload = video.readyState >= 2 ? await decode(video) : null;
    } catch {
      payload = null;
    }
    if (payload) {
      stopCamera();
      read(payload);
      return;
    }
    timer = setTimeout(look, SCAN_EVERY_MS);
  };
  look();
}

// -- paying --------------------------------------------------------------------------------

async function showRefusal(city, code) {
  const own = code && document.getElementById(`scan-msg-${code}`);
  if (own) {
    answerTemplate(own.id);
    return;
  }
  const url = `/c/${encodeURIComponent(city)}/wallet/why?code=${encodeURIComponent(code || "")}`;
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok || response.redirected) {
      answerTemplate("pay-msg-refused");
      return;
    }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text(); // our own server's partial (escaped by Jinja2)
    showAnswer([holder]);
  } catch {
    answerTemplate("pay-msg-network");
  }
}

let busy = false;

async function pay(button) {
  if (busy) return; // a double tap while the first is on its way
  const box = button.closest("[data-merchant]");
  const { city, wallet, merchant, reference, evidence } = box.dataset;
  const fields = { merchant, amount: Number.parseInt(box.dataset.amount, 10), evidence };
  busy = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const pending = await prepare("pay", city, wallet, fields);
    if (!pending) {
      answerTemplate("pay-msg-nokey");
      return;
    }
    answerTemplate("pay-msg-sending");
    const base = `/v1/cities/${encodeURIComponent(city)}`;
    const url = reference ? `${base}/qr/requests/${encodeURIComponent(reference)}/pay` : `${base}/payments`;
    const answer = await postCommand(url, pending.envelope, pending.idem);
    if (answer.network) {
      answerTemplate("pay-msg-network"); // kept: the retry sends the same envelope and key
      return;
    }
    forget("pay", city);
    if (answer.ok && answer.data && answer.data.id) {
      location.assign(`/c/${encodeURIComponent(city)}/wallet/receipts/${answer.data.id}`);
      return;
    }
    await showRefusal(city, answer.data && answer.data.code);
  } finally {
    busy = false;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// -- wiring --------------------------------------------------------------------------------

const camera = document.getElementById("scan-camera");
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  camera.hidden = false;
  camera.addEventListener("click", startCamera);
}
document.getElementById("scan-stop").addEventListener("click", stopCamera);
document.getElementById("scan-file").addEventListener("change", (event) => {
  const file = event.target.files && event.target.files[0];
  if (file) fromFile(file);
  event.target.value = ""; // the same photo again is a new choice
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-scan-pay]");
  if (button) pay(button);
});
document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "scan-result") {
    document.getElementById("scan-result").focus();
  }
});
