// The admin panel's only script (served from /admin/assets/, so the CSP needs no 'unsafe-inline'):
// buttons with data-copy="ID" copy the text of the element with that id. The panel works without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (source) navigator.clipboard.writeText(source.textContent);
});
