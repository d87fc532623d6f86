// The document the message viewer's sandboxed iframe shows. The iframe itself has
// `sandbox="allow-same-origin"`: no scripts, forms, popups or navigation (same origin only
// lets the window read the frame; with no scripts the message cannot use it). This adds a
// policy of its own so that nothing remote loads unless the user allows images, and links
// cannot navigate the frame.

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The Content-Security-Policy the message document runs under. */
export function messagePolicy(allowRemoteImages) {
  const images = allowRemoteImages ? "data: cid: https: http:" : "data: cid:";
  return `default-src 'none'; img-src ${images}; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'`;
}

/** The iframe's srcdoc for a message body: its HTML, or its text as preformatted text. */
export function messageDocument({ html, text }, allowRemoteImages = false) {
  const policy = messagePolicy(allowRemoteImages);
  const body = html ?? `<pre style="white-space:pre-wrap;font:13px/1.5 system-ui,sans-serif">${escapeHtml(text ?? "")}</pre>`;
  return (
    `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${policy}">` +
    `<style>html{color-scheme:light}body{margin:12px;font:14px/1.45 system-ui,sans-serif;word-wrap:break-word}</style>` +
    `</head><body>${body}</body></html>`
  );
}
