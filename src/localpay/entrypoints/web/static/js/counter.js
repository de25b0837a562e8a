// The counter screen: each live payment shows its amount large for a few seconds and
// plays a short beep (Web Audio, no file), unless muted on this device. The list itself
// is updated by htmx's SSE extension; this only adds what a cashier needs to notice it.
"use strict";
(() => {
  const FLASH_MS = 6000;
  const MUTE_KEY = "localpay.counter.muted";
  let audio = null;
  let hideTimer = null;

  const muted = () => localStorage.getItem(MUTE_KEY) === "1";

  function beep(kind) {
    if (muted()) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = kind === "refund" ? 440 : 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.35);
    } catch (e) {
      // No audio on this device: the large amount still shows.
    }
  }

  function flash(row) {
    const box = document.getElementById("flash");
    if (!box || !row) return;
    const kind = row.dataset.kind;
    box.classList.toggle("refund", kind === "refund");
    box.querySelector(".flash-label").textContent = row.querySelector(".tx-kind").textContent;
    box.querySelector(".flash-amount").textContent = row.dataset.flash;
    box.hidden = false;
    row.classList.add("fresh");
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      box.hidden = true;
      row.classList.remove("fresh");
    }, FLASH_MS);
    beep(kind);
  }

  function keepResumePoint(live, seq) {
    // If the browser must open a new stream (not just reconnect), it resumes from here.
    const url = new URL(live.getAttribute("sse-connect"), location.href);
    url.searchParams.set("after", seq);
    live.setAttribute("sse-connect", url.pathname + url.search);
  }

  function soundButton() {
    const button = document.getElementById("sound");
    if (!button) return;
    const show = () => {
      const on = !muted();
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? button.dataset.on : button.dataset.off;
    };
    button.hidden = false;
    show();
    button.addEventListener("click", () => {
      localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
      show();
      if (!muted()) beep("pay"); // a tap also lets the browser play sound
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    soundButton();
    // Browsers play sound only after the page was touched once.
    const unlock = () => {
      if (!muted() && !audio) {
        try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) {}
      }
      if (audio && audio.state === "suspended") audio.resume();
    };
    document.addEventListener("pointerdown", unlock, { once: true });
    document.addEventListener("keydown", unlock, { once: true });
    // Whether the live stream is open, for the people (and tests) watching the screen:
    // a counter that silently stopped updating would have staff trust a stale list.
    const lost = document.getElementById("live-lost");
    document.body.addEventListener("htmx:sseOpen", (event) => {
      if (event.target.id !== "live") return;
      event.target.dataset.state = "open";
      if (lost) lost.hidden = true;
    });
    document.body.addEventListener("htmx:sseError", (event) => {
      if (event.target.id !== "live") return;
      event.target.dataset.state = "closed";
      if (lost) lost.hidden = false;
    });
    document.body.addEventListener("htmx:sseMessage", (event) => {
      const rows = document.getElementById("rows");
      if (event.target !== rows) return;
      const row = rows.firstElementChild;
      const empty = document.getElementById("no-rows");
      if (empty) empty.remove();
      if (row && row.dataset.seq) {
        keepResumePoint(document.getElementById("live"), row.dataset.seq);
        flash(row);
      }
    });
  });
})();
