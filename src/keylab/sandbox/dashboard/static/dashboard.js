// The only script of the dashboard: the Copy button next to a newly created key.
// The button says "Copied" only once the key is on the clipboard, and "Press Ctrl+C" (the key is
// selected) when the browser refuses both ways of copying, so it never claims a copy that failed.

async function copyToClipboard(field) {
  if (navigator.clipboard && window.isSecureContext) {  // http://127.0.0.1 counts as secure
    try {
      await navigator.clipboard.writeText(field.value);
      return true;
    } catch (error) {
      // Refused (no permission, page not focused): try the older way below.
    }
  }
  field.select();
  try {
    return document.execCommand("copy");
  } catch (error) {
    return false;
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();  // selected whatever happens, so Ctrl+C works too
  const copied = await copyToClipboard(field);
  button.textContent = copied ? "Copied" : "Press Ctrl+C";
  clearTimeout(button.resetTimer);  // a second click restarts the 2 seconds
  button.resetTimer = setTimeout(() => { button.textContent = "Copy"; }, 2000);
});
