// The admin panel's only script (served from /admin/assets/, so the CSP needs no 'unsafe-inline'):
// buttons with data-copy="ID" copy the text of the element with that id, and say so. Where the
// Clipboard API is missing (plain http on a host other than localhost) the text is selected and
// copied the old way, or left selected with a hint. The panel works without this script.
// The button's own markup (its visually hidden words name what it copies) comes back afterwards.
function say(button, text) {
  const before = button.dataset.html || button.innerHTML;
  button.dataset.html = before;
  button.textContent = text;
  setTimeout(() => { button.innerHTML = before; }, 2000);
}

function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function copyOldWay(button, source) {
  selectText(source);
  let copied = false;
  try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
  say(button, copied ? "Copied" : "Selected: press Ctrl+C");
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.textContent).then(
      () => say(button, "Copied"),
      () => copyOldWay(button, source),
    );
  } else {
    copyOldWay(button, source);
  }
});

// Scope matrices: a filter box over the resources, "Tick all read" and "Clear all" (on the rows
// the filter shows). Shown only with this script; without it the matrix is a plain form.
for (const tools of document.querySelectorAll("[data-js-only]")) tools.hidden = false;

function matrixOf(control) {
  return document.getElementById(control.getAttribute("aria-controls"));
}

document.addEventListener("input", (event) => {
  const box = event.target.closest("input[data-scope-filter]");
  if (!box) return;
  const matrix = matrixOf(box);
  if (!matrix) return;
  const words = box.value.trim().toLowerCase();
  for (const row of matrix.querySelectorAll("tbody tr")) {
    row.hidden = words !== "" && !row.textContent.toLowerCase().includes(words);
  }
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-tick]");
  if (!button) return;
  const matrix = matrixOf(button);
  if (!matrix) return;
  const action = button.dataset.tick;
  for (const box of matrix.querySelectorAll("tbody tr:not([hidden]) input[type=checkbox][name=scope]")) {
    box.checked = action === "" ? false : box.dataset.action === action || box.checked;
  }
});
