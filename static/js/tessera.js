// Tessera's little JavaScript: dialogs for creating tokens and confirming
// revocation (each with a Close button), the Copy button, and the expiry
// control's live "Expires on …" line. Every action
// also works without it: the links and forms lead to full pages.
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

  // The fields of a form as a browser would send them, with the button that
  // submitted it (its name and value are part of the submission).
  function formData(form, submitter) {
    const data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    return new URLSearchParams(data);
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

  // Selects and radio buttons that reload their form when changed (the form
  // has a fallback button).
  function wireAutosubmit(root) {
    root.querySelectorAll("select[data-autosubmit], input[type=radio][data-autosubmit]").forEach((select) => {
      select.addEventListener("change", () => {
        // requestSubmit fires "submit", so a dialog form stays in its dialog.
        if (typeof select.form.requestSubmit === "function") select.form.requestSubmit();
        else select.form.submit();
      });
    });
  }

  // The expiry control (partials/expiry_field.html): a choice of presets, or
  // "Custom date…" with a date input, shown (and focused) only then; under it
  // the line saying when the token will expire, and on the API token form the
  // warning beyond twelve months. Counted in UTC as the server does: a preset
  // from now (the server's clock, data-now), a date to the end of that day.
  const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"];

  // "2027-01-07" as "Thursday, 7 January 2027".
  function dayInWords(iso) {
    const [year, month, day] = iso.split("-").map(Number);
    const date = new Date(Date.UTC(year, month - 1, day));
    return `${WEEKDAYS[date.getUTCDay()]}, ${day} ${MONTHS[month - 1]} ${year}`;
  }

  function wireExpiryControls(root) {
    root.querySelectorAll("[data-expiry-control]").forEach((control) => {
      const select = control.querySelector("select[data-expiry-choice]");
      const box = control.querySelector("[data-expiry-date]");
      const input = box && box.querySelector("input[type=date]");
      const line = control.querySelector("[data-expiry-line]");
      if (!select || !input || !line) return;
      const warning = control.querySelector("#expiry-warning");
      const until = control.dataset.suggestedUntil;
      // How far the server's clock is ahead of this one.
      const skew = Number(control.dataset.now) - Date.now() || 0;
      const update = () => {
        const option = select.options[select.selectedIndex];
        const custom = !!option && option.value === "custom";
        // A date left in a hidden input must not count: disabled, it is not sent.
        box.hidden = !custom;
        input.disabled = !custom;
        let day = null;
        let never = false;
        let text;
        if (!option) {
          text = "Choose an expiry.";
        } else if (custom) {
          if (!input.value) text = "Choose a date.";
          else if (input.min && input.value < input.min) text = "Choose a date after today.";
          else if (input.max && input.value > input.max) {
            text = `The policy allows at most ${control.dataset.maxDays} days; choose an earlier date.`;
          } else day = input.value;
        } else if ("never" in option.dataset) {
          never = true;
          text = "Never expires.";
        } else {
          const at = new Date(Date.now() + skew + Number(option.dataset.after) * 1000);
          day = at.toISOString().slice(0, 10);
        }
        if (day) text = `Expires on ${dayInWords(day)}.`;
        line.textContent = text;
        if (warning && until) {
          const beyond = custom ? !!input.value && input.value > until : never || (!!day && day > until);
          warning.hidden = !beyond;
        }
      };
      select.addEventListener("change", () => {
        update();
        if (!box.hidden) input.focus();
      });
      input.addEventListener("input", update);
      input.addEventListener("change", update);
      update();
    });
  }

  // A search box (data-live-search) in a GET form that lists what matches in
  // the form's [data-user-matches]: typing asks the same page again (after a
  // pause) and shows its list, so the Find button is only needed without
  // JavaScript. Works alike on the page and inside a dialog.
  function wireLiveSearch(root) {
    root.querySelectorAll("input[data-live-search]").forEach((input) => {
      const form = input.form;
      const matches = form && form.querySelector("[data-user-matches]");
      if (!matches) return;
      let timer = null;
      let asked = 0;
      input.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          const ask = ++asked;
          const query = carriedQuery(form, form.closest("[data-dialog-body]") || document);
          query.delete("user_id");
          try {
            const { response, doc } = await fetchPage(`${form.action}?${query}`);
            const found = doc.querySelector("[data-user-matches]");
            if (ask !== asked || !response.ok || !found) return;
            matches.replaceChildren(...Array.from(found.childNodes, (node) => document.importNode(node, true)));
            hideNoJsFallbacks(matches);
            wireAutosubmit(matches);
          } catch (_) {
            // The Find button still works.
          }
        }, 250);
      });
    });
  }

  // A select whose options carry data-scopes shows the chosen one's scopes
  // in the element data-shows-scopes names (its [data-scope-list] part).
  function wireScopePreviews(root) {
    root.querySelectorAll("select[data-shows-scopes]").forEach((select) => {
      const target = root.querySelector(`#${select.dataset.showsScopes}`) || document.getElementById(select.dataset.showsScopes);
      const list = target && target.querySelector("[data-scope-list]");
      if (!list) return;
      const show = () => {
        const option = select.selectedOptions[0];
        const scopes = option ? (option.dataset.scopes || "").split(" ").filter(Boolean) : [];
        list.replaceChildren();
        scopes.forEach((scope) => {
          const span = document.createElement("span");
          span.className = "scope";
          span.textContent = scope;
          list.append(span, " ");
        });
        if (!scopes.length) list.append("none");
      };
      select.addEventListener("change", show);
    });
  }

  function hideNoJsFallbacks(root) {
    root.querySelectorAll("[data-hide-with-js]").forEach((element) => { element.hidden = true; });
  }

  // Every dialog gets a Close button (dialogs open only where this script
  // runs, so it is made here, once for all of them, and no page forgets it).
  function addCloseButton(dialog) {
    if (dialog.querySelector(":scope > [data-dialog-close]")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "dialog-close";
    button.dataset.dialogClose = "";
    button.setAttribute("aria-label", "Close");
    button.title = "Close";
    button.textContent = "×";
    button.addEventListener("click", () => dialog.close());
    dialog.prepend(button);
  }
  document.querySelectorAll("dialog").forEach(addCloseButton);

  // What a part of the page needs once it is in the document.
  function wireFragment(root) {
    hideNoJsFallbacks(root);
    wireAutosubmit(root);
    wireLiveSearch(root);
    wireScopePreviews(root);
    wireExpiryControls(root);
    wireCopyButtons(root);
  }

  // A GET form in a dialog (such as "Select user") carries the values already
  // typed into the dialog's other form, so that reloading it loses nothing.
  function carriedQuery(form, body) {
    const query = formData(form);
    body.querySelectorAll("form[data-dialog-form]").forEach((other) => {
      if (other === form) return;
      for (const [name, value] of new FormData(other)) {
        if (name !== "csrf_token" && query.has(name) && form.querySelector(`input[type=hidden][name="${name}"]`)) {
          query.set(name, value);
        }
      }
    });
    return query;
  }

  // Forms in a dialog submit in the background: a validation error (or a GET
  // form such as "Select user") re-renders the form inside the dialog; success
  // shows the one-time token in it.
  function wireDialogForm(dialog) {
    const body = dialog.querySelector("[data-dialog-body]");
    if (!body) return;
    body.querySelectorAll("form[data-dialog-form]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = form.querySelector("button[type=submit]");
        if (button) button.disabled = true;
        try {
          const get = (form.getAttribute("method") || "get").toLowerCase() === "get";
          const { doc } = get
            ? await fetchPage(`${form.action}?${carriedQuery(form, body)}`)
            : await fetchPage(form.action, { method: "POST", body: formData(form, event.submitter) });
          const result = doc.querySelector("[data-token-result]");
          const again = doc.querySelector("[data-dialog-fragment]") || doc.querySelector("form[data-dialog-form]");
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
            wireFragment(body);
            const firstError = body.querySelector(".field-error");
            if (firstError) firstError.scrollIntoView({ block: "nearest" });
            else if (get) {
              const next = body.querySelector("form[method=post] input:not([type=hidden]), form[method=post] select");
              if (next) next.focus();
            }
          } else {
            form.submit();
          }
        } catch (_) {
          form.submit();
        } finally {
          if (button) button.disabled = false;
        }
      });
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
      if (dialog.dataset.reloadOnClose) window.location.assign(window.location.pathname + window.location.search);
    });
  }

  function openDialog(dialog) {
    dialog.showModal();
    const first = dialog.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
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
      openDialog(dialog);
    });
  });

  // Links with data-dialog-page="id" load their page's [data-dialog-fragment]
  // into that dialog (a form too large to render into every list page).
  document.querySelectorAll("[data-dialog-page]").forEach((link) => {
    const dialog = document.getElementById(link.dataset.dialogPage);
    if (!dialog || typeof dialog.showModal !== "function") return;
    reloadAfterClose(dialog);
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      try {
        const { response, doc } = await fetchPage(link.href);
        const fragment = doc.querySelector("[data-dialog-fragment]");
        if (!response.ok || !fragment) throw new Error("no dialog content");
        const body = dialog.querySelector("[data-dialog-body]");
        body.replaceChildren(document.importNode(fragment, true));
        const title = dialog.querySelector("h2");
        if (title) title.hidden = false;
        delete dialog.dataset.reloadOnClose;
        wireDialogForm(dialog);
        wireCloseLinks(dialog);
        wireFragment(body);
        openDialog(dialog);
      } catch (_) {
        window.location.assign(link.href);
      }
    });
  });

  // Shows a page's [data-confirm-content] in the confirmation dialog.
  function showConfirmation(dialog, content) {
    const body = dialog.querySelector("[data-dialog-body]");
    const copy = document.importNode(content, true);
    copy.classList.remove("card", "narrow");
    body.replaceChildren(copy);
    hideNoJsFallbacks(body);
    wireExpiryControls(body);
    wireCloseLinks(dialog);
    dialog.showModal();
    // A destructive confirmation starts on its way out, not on the red button
    // (its Cancel is marked autofocus); the step-up, in its password field.
    const first = body.querySelector("[autofocus]") || body.querySelector("[data-dialog-close]");
    if (first) first.focus();
  }

  const confirmDialog = document.getElementById("confirm-dialog");
  if (confirmDialog && typeof confirmDialog.showModal === "function") {
    // Links with data-confirm-dialog load their confirmation page into a dialog.
    document.querySelectorAll("[data-confirm-dialog]").forEach((link) => {
      link.addEventListener("click", async (event) => {
        event.preventDefault();
        try {
          const { response, doc } = await fetchPage(link.href);
          const content = doc.querySelector("[data-confirm-content]");
          if (!response.ok || !content) throw new Error("no confirmation");
          showConfirmation(confirmDialog, content);
        } catch (_) {
          window.location.assign(link.href);
        }
      });
    });

    // Forms with data-confirm-form (bulk revoke) post in the background and
    // show the confirmation page they lead to in the dialog. Anything else
    // (say, nothing was ticked) is submitted the ordinary way.
    document.querySelectorAll("form[data-confirm-form]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        if (form.dataset.submitNatively) return;
        event.preventDefault();
        const submitter = event.submitter;
        const submitNatively = () => {
          form.dataset.submitNatively = "true";
          if (submitter && typeof form.requestSubmit === "function") form.requestSubmit(submitter);
          else form.submit();
        };
        try {
          const { response, doc } = await fetchPage(form.action, {
            method: "POST",
            body: formData(form, submitter),
          });
          const content = doc.querySelector("[data-confirm-content]");
          if (!response.ok || !content) throw new Error("no confirmation");
          showConfirmation(confirmDialog, content);
        } catch (_) {
          submitNatively();
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

  wireFragment(document);
})();
