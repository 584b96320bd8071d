// Small helpers shared by the pages.

/** "Code: message" as a person reads it, the AWS code kept. */
export function showError(el, err) {
  el.replaceChildren();
  const code = document.createElement("code");
  code.textContent = err.code || "Error";
  el.append(code, document.createTextNode(": " + (err.message || String(err))));
  el.hidden = false;
}
