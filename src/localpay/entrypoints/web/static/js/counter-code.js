// The counter's capture of a customer's code: the form works without this file (a USB
// barcode scanner types the digits and Enter into the code field). This adds:
// - Enter in the amount field moves to the code field while it is empty (ready to scan);
// - the camera: the browser's BarcodeDetector when it reads Code 128 and QR, else the
//   vendored barcode-detector ponyfill (zxing-wasm, served from /static, never a CDN).
// The words shown come from the page's <template>s: this file holds no text for people.

const PONYFILL = "/static/vendor/barcode-detector/ponyfill.js";
const WASM = "/static/vendor/zxing-wasm/zxing_reader.wasm";
const FORMATS = ["code_128", "qr_code"];
const CODE = /^[0-9]{20}$/;

const $ = (id) => document.getElementById(id);
const form = $("claim-form");
const amount = $("claim-amount-input");
const code = $("claim-code");

amount.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !code.value.trim()) {
    event.preventDefault();
    code.focus();
  }
});

let sent = false;
form.addEventListener("submit", (event) => {
  // A scanner's second Enter while the first is on its way: the same form, once.
  if (sent) event.preventDefault();
  sent = true;
});

function note(templateId) {
  $("camera-note").textContent = templateId ? $(templateId).content.textContent.trim() : "";
}

async function nativeDetector() {
  if (!("BarcodeDetector" in globalThis)) return null;
  try {
    const supported = await globalThis.BarcodeDetector.getSupportedFormats();
    if (!FORMATS.every((f) => supported.includes(f))) return null;
    return new globalThis.BarcodeDetector({ formats: FORMATS });
  } catch {
    return null;
  }
}

async function ponyfillDetector() {
  const { BarcodeDetector, prepareZXingModule } = await import(PONYFILL);
  prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM : prefix + path),
    },
  });
  return new BarcodeDetector({ formats: FORMATS });
}

let stream = null;
let looking = false;

function stopCamera() {
  looking = false;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  $("camera-video").hidden = true;
  $("camera-stop").hidden = true;
  $("camera-start").hidden = false;
}

function found(value) {
  const digits = String(value).replace(/[\s-]/g, "");
  if (!CODE.test(digits)) return false;
  code.value = digits;
  stopCamera();
  if (amount.value.trim()) {
    note("camera-msg-found");
    form.requestSubmit();
  } else {
    amount.focus();
  }
  return true;
}

async function startCamera() {
  const video = $("camera-video");
  let detector;
  try {
    detector = (await nativeDetector()) || (await ponyfillDetector());
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch {
    stopCamera();
    note("camera-msg-none");
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  $("camera-start").hidden = true;
  $("camera-stop").hidden = false;
  note("camera-msg-looking");
  looking = true;
  while (looking) {
    try {
      const codes = await detector.detect(video);
      if (codes.some((c) => found(c.rawValue))) return;
    } catch {
      // A frame not ready yet: try the next one.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  $("camera").hidden = false;
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", () => {
    stopCamera();
    note(null);
  });
}
