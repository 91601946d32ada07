// Connect: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  // Header rows: "Add a header" clones the empty row, "Remove" marks a row deleted and hides it.
  function setupFormset(section) {
    var body = section.querySelector("[data-formset-body]");
    var template = section.querySelector("template[data-formset-empty]");
    var addButton = section.querySelector("[data-formset-add]");
    var total = section.querySelector("input[name$='-TOTAL_FORMS']");
    var max = section.querySelector("input[name$='-MAX_NUM_FORMS']");
    if (!body || !template || !addButton || !total) return;
    var prefix = total.name.replace(/-TOTAL_FORMS$/, "");

    function visibleRows() {
      return body.querySelectorAll("[data-formset-row]:not([hidden])").length;
    }
    function refresh() {
      addButton.disabled = max && visibleRows() >= parseInt(max.value, 10);
    }
    function enhanceRow(row) {
      var box = row.querySelector(".delete-box");
      var remove = row.querySelector("[data-formset-remove]");
      if (!remove) return;
      if (box) box.hidden = true;
      remove.hidden = false;
      remove.addEventListener("click", function () {
        var check = row.querySelector("input[type=checkbox][name$='-DELETE']");
        if (check) check.checked = true;
        row.hidden = true;
        refresh();
        addButton.focus();
      });
    }
    body.querySelectorAll("[data-formset-row]").forEach(function (row) {
      var check = row.querySelector("input[type=checkbox][name$='-DELETE']");
      if (check && check.checked) row.hidden = true;
      enhanceRow(row);
    });
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(new RegExp(prefix + "-__prefix__", "g"), prefix + "-" + index);
      var holder = document.createElement("tbody");
      holder.innerHTML = html.trim();
      var row = holder.firstElementChild;
      body.appendChild(row);
      total.value = index + 1;
      enhanceRow(row);
      refresh();
      var first = row.querySelector("input[type=text]");
      if (first) first.focus();
    });
    refresh();
  }

  // A section whose fields belong to one choice (the auth mode, an item's method or pagination), named by its
  // data-choice attribute: only the chosen value's fields (data-modes="value ...") are shown.
  function setupChoice(section) {
    var name = section.getAttribute("data-choice");
    var controls = section.querySelectorAll("[name='" + name + "'], [name$='-" + name + "']");
    if (!controls.length) return;
    function chosen() {
      for (var i = 0; i < controls.length; i++) {
        var control = controls[i];
        if (control.type === "radio") { if (control.checked) return control.value; }
        else return control.value;
      }
      return "";
    }
    function apply() {
      var value = chosen();
      section.querySelectorAll("[data-modes]").forEach(function (el) {
        el.hidden = el.getAttribute("data-modes").split(" ").indexOf(value) === -1;
      });
    }
    controls.forEach(function (control) { control.addEventListener("change", apply); });
    apply();
  }

  // OAuth provider presets: choosing one fills the URLs and scopes, and a base URL placeholder (Salesforce) when the
  // base URL is empty or another preset's placeholder; every field stays editable.
  function setupPresets(section) {
    var data = document.getElementById("oauth-presets");
    var select = section.querySelector("select[name$='provider']");
    if (!data || !select) return;
    var presets = JSON.parse(data.textContent);
    var placeholders = Object.keys(presets).map(function (key) { return presets[key].base_url; });
    select.addEventListener("change", function () {
      var preset = presets[select.value];
      if (!preset || select.value === "custom") return;
      ["authorization_url", "token_url", "scopes"].forEach(function (name) {
        var input = section.querySelector("[name$='-" + name + "']");
        if (input && preset[name]) input.value = preset[name];
      });
      var baseUrl = document.querySelector("input[name='base_url']");
      if (baseUrl && preset.base_url && (!baseUrl.value || placeholders.indexOf(baseUrl.value) !== -1)) {
        baseUrl.value = preset.base_url;
      }
    });
  }

  // Long actions: disable the button and say it is running.
  function setupBusyForms() {
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("button[type=submit]");
        if (!button) return;
        setTimeout(function () {
          button.disabled = true;
          button.setAttribute("aria-busy", "true");
          button.textContent = form.getAttribute("data-busy") || "Working…";
        }, 0);
      });
    });
  }

  // Copy buttons (the OAuth callback URI): shown only where the clipboard can be used.
  function setupCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      var source = document.querySelector(button.getAttribute("data-copy"));
      var result = button.parentNode.querySelector("[data-copy-result]");
      if (!source) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          if (result) result.textContent = "Copied.";
        }, function () {
          if (result) result.textContent = "Select the text and copy it.";
        });
      });
    });
  }

  // Item bindings: one "comes from" choice per dependency, added and removed as the dependencies are typed.
  // The names follow the form's rules (items/forms.py parse_dependencies); the server checks them again.
  function setupBindings(section) {
    var input = document.querySelector(section.getAttribute("data-dependencies-input"));
    var rows = section.querySelector("[data-binding-rows]");
    var template = section.querySelector("template[data-binding-template]");
    var empty = section.querySelector("[data-binding-empty]");
    if (!input || !rows || !template) return;
    var removed = {};  // name -> row taken out, so a name typed again keeps its choice
    var identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
    var reserved = ["userinput", "currentuser", "q"];

    function declaredNames() {
      var names = [];
      input.value.split(",").forEach(function (part) {
        var name = part.trim().replace(/\?$/, "").trim().replace(/^\$+/, "");
        if (identifier.test(name) && reserved.indexOf(name.toLowerCase()) === -1 && names.indexOf(name) === -1) {
          names.push(name);
        }
      });
      return names;
    }
    function rowFor(name) {
      var existing = rows.querySelector('[data-binding-row="' + name + '"]');
      if (existing) return existing;
      if (removed[name]) return removed[name];
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__name__/g, name).trim();
      return holder.firstElementChild;
    }
    function refresh() {
      var names = declaredNames();
      Array.prototype.slice.call(rows.children).forEach(function (row) {
        var name = row.getAttribute("data-binding-row");
        if (names.indexOf(name) === -1) { removed[name] = row; rows.removeChild(row); }
      });
      names.forEach(function (name) { rows.appendChild(rowFor(name)); });
      if (empty) empty.hidden = names.length > 0;
    }
    input.addEventListener("input", refresh);
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A form sent back with errors: start at its summary, whose links lead to each field.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
    var bindings = document.querySelector("[data-bindings]");
    if (bindings) setupBindings(bindings);
    setupCopyButtons();
    var headers = document.getElementById("headers");
    if (headers) setupFormset(headers);
    document.querySelectorAll("[data-choice]").forEach(setupChoice);
    var auth = document.getElementById("auth");
    if (auth) setupPresets(auth);
    setupBusyForms();
  });
})();
