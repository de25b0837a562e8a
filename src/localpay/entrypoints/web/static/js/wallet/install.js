// Every wallet page registers the wallet's service worker (the installable app's shell).
// Its scope is the wallet's own path, where the worker is served from.
const app = document.querySelector('meta[name="localpay-app"]');
if (app && "serviceWorker" in navigator) {
  const scope = app.content;
  navigator.serviceWorker.register(`${scope}sw.js`, { scope }).catch(() => {
    // No worker (private mode, an old browser): the pages work the same, online.
  });
}
