// Passkeys (WebAuthn): the one part of Tessera that cannot work without
// JavaScript, as the browser's passkey interface is only reachable from a
// script. A form marked data-passkey="create" (adding one) or "get" (signing
// in, second factor, step-up) with data-options="<url>":
//  1. posts its fields (form-encoded, csrf_token included) to the options URL,
//     which answers the WebAuthn options as JSON (or {"error": "…"});
//  2. asks the browser for a new credential, or an assertion, with them;
//  3. puts the answer, as JSON with base64url binary fields, into the form's
//     hidden `credential` field and submits the form as usual.
"use strict";

(function () {
  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return null;
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withCredentialIds(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: fromBase64url(item.id) }));
  }

  // The server's JSON options, with the binary fields the browser wants as buffers.
  function creationOptions(json) {
    const options = Object.assign({}, json.publicKey);
    options.challenge = fromBase64url(options.challenge);
    options.user = Object.assign({}, options.user, { id: fromBase64url(options.user.id) });
    options.excludeCredentials = withCredentialIds(options.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(json) {
    const options = Object.assign({}, json.publicKey);
    options.challenge = fromBase64url(options.challenge);
    options.allowCredentials = withCredentialIds(options.allowCredentials);
    return { publicKey: options };
  }

  function extensionResults(credential) {
    try {
      return credential.getClientExtensionResults();
    } catch (_) {
      return {};
    }
  }

  // What the server reads (webauthn-rs's RegisterPublicKeyCredential and
  // PublicKeyCredential).
  function createdJson(credential) {
    const response = credential.response;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(response.attestationObject),
        clientDataJSON: toBase64url(response.clientDataJSON),
      },
      extensions: extensionResults(credential),
    };
    if (typeof response.getTransports === "function") {
      json.response.transports = response.getTransports();
    }
    return json;
  }

  function assertionJson(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: toBase64url(response.userHandle),
      },
      extensions: extensionResults(credential),
    };
  }

  function say(form, message) {
    const box = form.querySelector("[data-passkey-message]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey check was cancelled or timed out. Try again.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This passkey is registered already.";
    }
    return "The passkey did not answer: " + (error && error.message ? error.message : "unknown error") + ".";
  }

  async function run(form) {
    const kind = form.dataset.passkey;
    const field = form.querySelector('input[name="credential"]');
    const data = new URLSearchParams(new FormData(form));
    data.delete("credential");
    const response = await fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: data,
    });
    let json = null;
    try {
      json = await response.json();
    } catch (_) {
      json = null;
    }
    if (!response.ok || !json || json.error) {
      say(form, (json && json.error) || "Tessera could not start the passkey check (" + response.status + "). Reload the page and try again.");
      return;
    }
    let credential;
    try {
      credential = kind === "create"
        ? await navigator.credentials.create(creationOptions(json))
        : await navigator.credentials.get(requestOptions(json));
    } catch (error) {
      say(form, explain(error));
      return;
    }
    if (!credential) {
      say(form, "No passkey was chosen.");
      return;
    }
    field.value = JSON.stringify(kind === "create" ? createdJson(credential) : assertionJson(credential));
    say(form, "");
    form.dataset.submitted = "1";
    form.submit();
  }

  document.querySelectorAll("form[data-passkey]").forEach((form) => {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(form, "This browser cannot use passkeys (it has no WebAuthn).");
      form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
      return;
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const submitter = event.submitter || form.querySelector('button[type="submit"]');
      if (submitter) submitter.disabled = true;
      run(form)
        .catch((error) => say(form, explain(error)))
        .finally(() => {
          if (submitter && !form.dataset.submitted) submitter.disabled = false;
        });
    });
  });
})();
