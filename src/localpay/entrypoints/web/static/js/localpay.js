// localpay pages: behaviour shared by every page. Pages work without it (forms post
// normally); htmx and server-sent events make them live where the browser allows.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (!window.htmx) return;
  // A refusal in plain words (422, 409) replaces the part of the page that asked, like
  // a success does; other errors leave the page as it is.
  window.htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "(422|409)", swap: true, error: false },
    { code: "[45]..", swap: false, error: true },
  ];
});
