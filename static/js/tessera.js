// Tessera's little JavaScript: dialogs for creating tokens and confirming
// revocation, and the Copy button. Every action also works without it: the
// links and forms lead to full pages.
"use strict";

(function () {
  const parser = new DOMParser();

  // Pages fetched for a dialog say so, so that the server keeps any pending
  // flash message for the next full page instead of spending it here.
  async function fetchPage(url, options) {
    const headers = { "X-Tessera-Dialog": "1" };
    const response = await fetch(url, Object.assign({ credentials: "same-origin", headers }, options));
    const html = await response.text();
    return { response, doc: parser.parseFromString(html, "text/html") };
  }

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  // Copy buttons: <button data-copy="element-id">. The button says "Copied" only
  // when the text really reached the clipboard; otherwise the text is left
  // selected and the button says how to copy it by hand.
  function wireCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach((button) => {
      const target = document.getElementById(button.dataset.copy);
      if (!target) return;
      button.hidden = false;
      button.addEventListener("click", async () => {
        let copied = false;
        try {
          await navigator.clipboard.writeText(target.textContent.trim());
          copied = true;
        } catch (_) {
          // No Clipboard API here (or not allowed): the old command, which
          // reports whether it worked.
          selectText(target);
          try {
            copied = document.execCommand("copy");
          } catch (_) {
            copied = false;
          }
        }
        if (copied) {
          button.textContent = "Copied";
          button.classList.add("copied");
        } else {
          selectText(target);
          button.textContent = "Press Ctrl+C to copy";
          button.classList.remove("copied");
        }
      });
    });
  }

  // Forms in a dialog submit in the background: a validation error re-renders
  // the form inside the dialog; success shows the one-time token in it.
  function wireDialogForm(dialog) {
    const body = dialog.querySelector("[data-dialog-body]");
    const form = body && body.querySelector("form[data-dialog-form]");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      try {
        const { doc } = await fetchPage(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
        });
        const result = doc.querySelector("[data-token-result]");
        const again = doc.querySelector("form[data-dialog-form]");
        if (result) {
          body.replaceChildren(document.importNode(result, true));
          const title = dialog.querySelector("h2");
          if (title) title.hidden = true;
          dialog.dataset.reloadOnClose = "true";
          wireCopyButtons(body);
          wireCloseLinks(dialog);
        } else if (again) {
          body.replaceChildren(document.importNode(again, true));
          wireDialogForm(dialog);
          wireCloseLinks(dialog);
          const firstError = body.querySelector(".field-error");
          if (firstError) firstError.scrollIntoView({ block: "nearest" });
        } else {
          form.submit();
        }
      } catch (_) {
        form.submit();
      } finally {
        if (button) button.disabled = false;
      }
    });
  }

  function wireCloseLinks(dialog) {
    dialog.querySelectorAll("[data-dialog-close]").forEach((link) => {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        dialog.close();
      });
    });
  }

  function reloadAfterClose(dialog) {
    dialog.addEventListener("close", () => {
      if (dialog.dataset.reloadOnClose) window.location.assign(window.location.pathname);
    });
  }

  // Links with data-open-dialog="id" open that dialog instead of navigating.
  document.querySelectorAll("[data-open-dialog]").forEach((link) => {
    const dialog = document.getElementById(link.dataset.openDialog);
    if (!dialog || typeof dialog.showModal !== "function") return;
    wireDialogForm(dialog);
    wireCloseLinks(dialog);
    reloadAfterClose(dialog);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
      const first = dialog.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    });
  });

  // Links with data-confirm-dialog load their confirmation page into a dialog.
  const confirmDialog = document.getElementById("confirm-dialog");
  if (confirmDialog && typeof confirmDialog.showModal === "function") {
    document.querySelectorAll("[data-confirm-dialog]").forEach((link) => {
      link.addEventListener("click", async (event) => {
        event.preventDefault();
        try {
          const { response, doc } = await fetchPage(link.href);
          const content = doc.querySelector("[data-confirm-content]");
          if (!response.ok || !content) throw new Error("no confirmation");
          const body = confirmDialog.querySelector("[data-dialog-body]");
          const copy = document.importNode(content, true);
          copy.classList.remove("card", "narrow");
          body.replaceChildren(copy);
          wireCloseLinks(confirmDialog);
          confirmDialog.showModal();
        } catch (_) {
          window.location.assign(link.href);
        }
      });
    });
  }

  // "Select all" header checkbox: <input data-select-all="ids"> ticks every
  // checkbox of that name in its form.
  document.querySelectorAll("[data-select-all]").forEach((master) => {
    const form = master.closest("form");
    const name = master.dataset.selectAll;
    const boxes = () => Array.from(form.querySelectorAll(`input[type=checkbox][name="${name}"]`));
    master.hidden = false;
    master.addEventListener("change", () => boxes().forEach((box) => { box.checked = master.checked; }));
    form.addEventListener("change", (event) => {
      if (event.target === master || event.target.name !== name) return;
      const all = boxes();
      master.checked = all.every((box) => box.checked);
      master.indeterminate = !master.checked && all.some((box) => box.checked);
    });
  });

  // Selects that reload the page when changed (their form has a fallback button).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  document.querySelectorAll("[data-hide-with-js]").forEach((element) => { element.hidden = true; });

  // A warning beside an expiry date beyond the suggested limit.
  document.querySelectorAll("[data-suggested-until]").forEach((input) => {
    const warning = document.getElementById("expiry-warning");
    if (!warning) return;
    input.addEventListener("input", () => {
      warning.hidden = !(input.value && input.value > input.dataset.suggestedUntil);
    });
  });

  wireCopyButtons(document);
})();
