/* Connect field widget: turns <input data-connect-item="7" name="asset"> into a connected field.
 *
 * One dependency-free script, no build step; its look is connect-field.css (link it: the script adds no style, so a
 * strict Content-Security-Policy is fine). Progressive enhancement: without it the input still submits what was
 * typed. With it, an item whose query uses $userInput becomes an autocomplete (the WAI-ARIA 1.2 combobox pattern,
 * modelled on the APG "list autocomplete" example and GOV.UK's accessible-autocomplete), any other item a select
 * list while it has at most 50 options, a searchable combobox over more (`q` filters it on Connect); the chosen key
 * goes in a hidden input carrying the input's name, the visible control shows the label. Options come in slices of
 * 100 (offset/limit): the next loads when the listbox is scrolled to its end, "More options…" is chosen, or End is
 * pressed on the last option.
 * Attributes (on the input; url and token may also sit on this script's tag, or come from ConnectField.configure):
 *   data-connect-item      the item's id (required)
 *   data-connect-depends   "country=#country, region=#region": where each dependency's value comes from
 *   data-connect-url       Connect's base URL (default: where this script was loaded from)
 *   data-connect-token     an embedding token (cross-origin pages); Connect's own pages use the session
 *   data-connect-label     the label of a pre-filled key (value="NL" data-connect-label="Netherlands")
 *   data-connect-label-name  also submit the chosen label under this name
 *   data-connect-proof-name  where the selection proof goes (default: the input's name + "_proof")
 *   data-connect-proof     "off": no selection proof is asked for
 *   data-connect-debounce  milliseconds to wait after typing (default 250)
 *   data-connect-multiple  several values: removable chips (buttons), one hidden input per key (and label), one
 *                          proof for all keys; pre-filled: <input type="hidden"> of the same name and form, each with
 *                          its data-connect-label (or none: /labels)
 *   data-connect-max       the most values a field with several takes (default and cap: 50, one proof's keys)
 * A choice is signed by Connect (POST /api/items/<id>/selections): the proof (a JWT) goes in a hidden input beside
 * the key, and a form submitted before it arrived waits for it (or goes without it when it failed). A pre-filled
 * key without data-connect-label shows its label from /api/items/<id>/labels (one request per item and page). An
 * input with `required` stays required: typed text without a choice blocks the submission (setCustomValidity).
 * ConnectField.enhance(el) enhances inputs added later; ConnectField.destroy(el) removes the field's listeners, timers,
 * requests and nodes and gives back the input as it was (frameworks that re-render). Texts: MESSAGES below, English
 * and French, chosen by the closest lang attribute; ConnectField.configure({messages: {fr: {...}}}) changes them.
 */
(function () {
  "use strict";
  if (window.ConnectField && window.ConnectField.enhance) return;  // loaded twice

  var SCRIPT = document.currentScript;
  var settings = {url: null, token: null};
  // Every text the widget shows or announces, per language (the primary subtag of the closest lang attribute;
  // English when the language has no table). "{name}" is replaced; a key + "One" is used when count is 1.
  var MESSAGES = {
    en: {
      loading: "Loading…", loadingOptions: "Loading options…", setupFailed: "This field could not be set up.",
      choose: "Choose…", listEmpty: "No options", listFailed: "Options could not be loaded",
      noOptions: "No options.", noMatch: "No options match “{text}”.",
      available: "{count} options available.", availableOne: "1 option available.",
      howToChoose: "Use the up and down arrows to choose, Enter to select.", selected: "{label} selected.",
      hint: "Type to search.", hintAll: "Type to search, or press the down arrow for all options.",
      hintKeys: "Use the up and down arrows to move through the options and Enter to choose one.",
      textWithoutChoice: "Choose one of the options: typed text alone sets no value.",
      chooseFirst: "Choose {name} first.", fillFirst: "Fill in {name} first.",
      missingOnPage: "This field needs ${name} from “{selector}”, which is not on the page.",
      missingLink: "This field needs a value for ${name}, which the page does not connect (data-connect-depends).",
      unnamed: "the field it needs",
      error_network: "Connect could not be reached.",
      error_cors: "Connect could not be reached from this page: the network failed, or Connect does not allow this " +
                  "page's origin (CORS).",
      error_http: "Connect answered HTTP {status}.",
      hintMultiple: "Enter chooses an option or removes a chosen one; Backspace in the empty field removes the " +
                    "last chosen value.",
      chosenList: "{name}: chosen", removeChip: "Remove {label}", removed: "{label} removed.",
      maxReached: "At most {max} values can be chosen: remove one first.",
      moreOptions: "More options…",
      shownOf: "{shown} of {total} options shown; more at the end of the list.",
      shownOfAtLeast: "{shown} of {total} or more options shown; more at the end of the list."
    },
    fr: {
      loading: "Chargement…", loadingOptions: "Chargement des options…",
      setupFailed: "Ce champ n’a pas pu être préparé.",
      choose: "Choisir…", listEmpty: "Aucune option", listFailed: "Les options n’ont pas pu être chargées",
      noOptions: "Aucune option.", noMatch: "Aucune option ne correspond à « {text} ».",
      available: "{count} options disponibles.", availableOne: "1 option disponible.",
      howToChoose: "Utilisez les flèches haut et bas pour choisir, Entrée pour sélectionner.",
      selected: "{label} sélectionné.",
      hint: "Tapez pour rechercher.", hintAll: "Tapez pour rechercher, ou appuyez sur la flèche bas pour toutes les " +
            "options.",
      hintKeys: "Utilisez les flèches haut et bas pour parcourir les options et Entrée pour en choisir une.",
      textWithoutChoice: "Choisissez l’une des options : le texte tapé seul ne donne pas de valeur.",
      chooseFirst: "Choisissez d’abord {name}.", fillFirst: "Remplissez d’abord {name}.",
      missingOnPage: "Ce champ a besoin de ${name} depuis « {selector} », absent de la page.",
      missingLink: "Ce champ a besoin d’une valeur pour ${name}, que la page ne relie pas (data-connect-depends).",
      unnamed: "le champ dont il dépend",
      error_network: "Connect est injoignable.",
      error_cors: "Connect est injoignable depuis cette page : le réseau a échoué, ou Connect n’autorise pas " +
                  "l’origine de cette page (CORS).",
      error_http: "Connect a répondu HTTP {status}.",
      hintMultiple: "Entrée choisit une option ou retire une option choisie ; Retour arrière dans le champ vide " +
                    "retire la dernière valeur choisie.",
      chosenList: "{name} : choix", removeChip: "Retirer {label}", removed: "{label} retiré.",
      maxReached: "Au plus {max} valeurs peuvent être choisies : retirez-en une d’abord.",
      moreOptions: "Plus d’options…",
      shownOf: "{shown} options affichées sur {total} ; les suivantes en fin de liste.",
      shownOfAtLeast: "{shown} options affichées sur au moins {total} ; les suivantes en fin de liste."
    }
  };
  var custom = {"*": {}};  // configure({messages}): per language, or "key": text for every language
  var fields = new WeakMap();  // element (input, select or hidden input) -> Field
  var answers = new Map();     // request URL + token -> successful answer, reused on the page
  var descriptions = new Map(); // base URL + item -> promise of the item's field description
  var labelBatches = new Map(); // base URL + item + token + values -> pre-filled keys waiting for their labels
  var allFields = [];
  var watchedForms = new Map(); // form -> the AbortController of its submit watcher (while it has fields)
  var releasing = new WeakSet(); // forms whose submission no longer waits for proofs
  var counter = 0;
  var MAX_ANSWERS = 300;
  var MAX_LABEL_KEYS = 50;      // keys per /labels request
  var MAX_KEYS = 50;            // keys one selection proof covers: the most a field with several values takes
  var SLICE = 100;              // options per request (the endpoint's limit); more as the list is scrolled
  var SELECT_AT_MOST = 50;      // a list with more options is a searchable combobox, not a <select>
  var PROOF_WAIT_MS = 8000;     // the longest a submission waits for a pending proof

  function configure(options) {
    Object.keys(options || {}).forEach(function (name) {
      if (name !== "messages") return (settings[name] = options[name]);
      Object.keys(options.messages || {}).forEach(function (key) {
        var value = options.messages[key];
        if (value && typeof value === "object") custom[key] = Object.assign(custom[key] || {}, value);
        else custom["*"][key] = value;
      });
    });
  }
  configure(window.ConnectFieldConfig);

  function languageOf(el) {
    var holder = el && el.closest("[lang]");
    return ((holder && holder.getAttribute("lang")) || "en").split("-")[0].toLowerCase();
  }
  function message(field, key, count) {
    var lang = languageOf(field && field.input), found;
    [custom[lang], custom["*"], MESSAGES[lang], custom.en, MESSAGES.en].some(function (table) {
      if (table && count === 1 && table[key + "One"] != null) found = table[key + "One"];
      else if (table && table[key] != null) found = table[key];
      return found != null;
    });
    return found;
  }
  // The text of a message in the field's language: text(field, "noMatch", {text: "xyz"}).
  function text(field, key, params) {
    params = params || {};
    var found = message(field, key, params.count);
    if (typeof found === "function") found = found(params);
    return String(found == null ? key : found).replace(/\{(\w+)\}/g, function (all, name) {
      return name in params ? params[name] : all;
    });
  }

  function scriptAttribute(name) { return SCRIPT ? SCRIPT.getAttribute("data-connect-" + name) : null; }

  function baseUrlFor(el) {
    var url = el.getAttribute("data-connect-url") || settings.url || scriptAttribute("url");
    if (!url && SCRIPT && SCRIPT.src) url = SCRIPT.src.replace(/\/static\/[^?#]*([?#].*)?$/, "");
    return (url || "").replace(/\/+$/, "");
  }

  // --- talking to Connect ----------------------------------------------------------------------------------------

  // code: Connect's error code, or network, cors, http_<status>; message: Connect's own text, if any.
  function FieldError(code, message, status) { this.code = code; this.message = message; this.status = status; }

  var tokens = {pending: null};
  function tokenFor(el, fresh) {
    var own = el.getAttribute("data-connect-token");
    if (own) return Promise.resolve(own);
    if (typeof settings.token === "function") {  // the host page's hook: called again when a token expired
      if (fresh || !tokens.pending) tokens.pending = Promise.resolve(settings.token({expired: !!fresh}));
      return tokens.pending;
    }
    return Promise.resolve(settings.token || scriptAttribute("token") || null);
  }

  function send(url, token, signal, body) {
    var sameOrigin = new URL(url, location.href).origin === location.origin;
    var headers = {Accept: "application/json"};
    if (token) headers.Authorization = "Bearer " + token;
    // Cookies only on Connect's own pages (the session); never sent cross-origin.
    var init = {headers: headers, credentials: sameOrigin ? "same-origin" : "omit", mode: "cors", cache: "no-store"};
    if (signal) init.signal = signal;
    if (body !== undefined) {
      init.method = "POST";
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (response.ok && body) return body;
        var error = body && body.error;
        if (error && error.message) throw new FieldError(error.code, error.message);
        throw new FieldError("http_" + response.status, null, response.status);
      });
    }, function (error) {
      if (error && error.name === "AbortError") throw error;
      throw new FieldError(sameOrigin ? "network" : "cors");
    });
  }

  function call(el, url, signal, body) {
    return tokenFor(el, false).then(function (token) {
      return send(url, token, signal, body).catch(function (error) {
        if (error.code !== "token_expired" || typeof settings.token !== "function") throw error;
        return tokenFor(el, true).then(function (fresh) { return send(url, fresh, signal, body); });
      });
    });
  }

  // Pre-filled keys of one item (and the same values) asked together, once the fields are set up.
  function askLabel(field) {
    var values = field.values().values;
    var id = [field.base, field.itemId, field.input.getAttribute("data-connect-token") || "",
              JSON.stringify(values)].join("|");
    var batch = labelBatches.get(id);
    if (!batch) {
      batch = {fields: [], values: values};
      labelBatches.set(id, batch);
      setTimeout(function () { labelBatches.delete(id); sendLabels(batch); }, 0);
    }
    batch.fields.push(field);
  }

  function sendLabels(batch) {
    var first = batch.fields[0], keys = [];
    batch.fields.forEach(function (field) {
      field.wantedLabels().forEach(function (key) { if (keys.indexOf(key) === -1) keys.push(key); });
    });
    for (var start = 0; start < keys.length; start += MAX_LABEL_KEYS) {
      var params = new URLSearchParams();
      keys.slice(start, start + MAX_LABEL_KEYS).forEach(function (key) { params.append("key", key); });
      Object.keys(batch.values).forEach(function (name) {
        if (batch.values[name]) params.set(name, batch.values[name]);
      });
      call(first.input, first.base + "/api/items/" + first.itemId + "/labels?" + params.toString()).then(
        function (answer) {
          var labels = (answer && answer.labels) || {};
          batch.fields.forEach(function (field) {
            field.wantedLabels().forEach(function (key) {
              if (typeof labels[key] === "string") field.labelArrived(key, labels[key]);
            });
          });
        }, function () { /* the key stays shown: a label is a nicety, never an error */ });
    }
  }

  // A submission waits for the proofs still on their way (each field's own request), then goes on.
  function watchForm(form) {
    if (!form || watchedForms.has(form)) return;
    var watcher = new AbortController();
    watchedForms.set(form, watcher);
    form.addEventListener("submit", function (event) {
      if (releasing.has(form)) return;
      var pending = allFields.filter(function (field) {
        return field.proofPending && form.contains(field.wrapper);
      }).map(function (field) { return field.proofPending; });
      if (!pending.length) return;
      event.preventDefault();
      event.stopImmediatePropagation();  // the page's own handlers see the submission that goes
      var submitter = event.submitter, sent = false;
      function go() {
        if (sent) return;
        sent = true;
        releasing.add(form);
        try {
          if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
          else form.submit();
        } finally { releasing.delete(form); }
      }
      Promise.all(pending).then(go, go);
      setTimeout(go, PROOF_WAIT_MS);
    }, {capture: true, signal: watcher.signal});
  }
  function unwatchForm(form) {  // once the form's last field is gone
    if (!watchedForms.has(form) || allFields.some(function (field) { return field.form === form; })) return;
    watchedForms.get(form).abort();
    watchedForms.delete(form);
  }

  function describe(field) {
    var key = field.base + "|" + field.itemId;
    if (!descriptions.has(key)) {
      var promise = call(field.input, field.base + "/api/items/" + field.itemId + "/field");
      promise.catch(function () { descriptions.delete(key); });
      descriptions.set(key, promise);
    }
    return descriptions.get(key);
  }

  function remember(key, body) {
    answers.set(key, body);
    if (answers.size > MAX_ANSWERS) answers.delete(answers.keys().next().value);
  }

  // --- small DOM helpers -----------------------------------------------------------------------------------------

  function element(tag, attributes, text) {
    var el = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { el.setAttribute(name, attributes[name]); });
    if (text) el.textContent = text;
    return el;
  }
  function addToken(el, attribute, value) {
    var list = (el.getAttribute(attribute) || "").split(/\s+/).filter(Boolean);
    if (list.indexOf(value) === -1) list.push(value);
    el.setAttribute(attribute, list.join(" "));
  }
  function labelText(el, field) {
    var label = el.labels && el.labels[0];
    var text = label ? label.textContent : (el.getAttribute("aria-label") || el.name || el.id || field.text("unnamed"));
    return text.replace(/\s*\*\s*$/, "").trim();
  }
  function parseDepends(text) {
    var found = [];
    (text || "").split(",").forEach(function (part) {
      var at = part.indexOf("=");
      if (at > 0) found.push({name: part.slice(0, at).trim(), selector: part.slice(at + 1).trim()});
    });
    return found;
  }
  function find(selector) {
    try { return document.querySelector(selector); } catch (error) { return null; }
  }

  // --- one field ---------------------------------------------------------------------------------------------------

  function Field(input) {
    this.input = input;
    this.itemId = input.getAttribute("data-connect-item");
    this.base = baseUrlFor(input);
    this.debounce = parseInt(input.getAttribute("data-connect-debounce"), 10);
    if (!(this.debounce >= 0)) this.debounce = 250;
    this.name = labelText(input, this);
    this.key = input.value;
    this.label = input.getAttribute("data-connect-label") || input.value;
    this.labelWanted = !!input.value && !input.hasAttribute("data-connect-label");
    this.keyText = "";  // the text typed when the key was chosen (a search field)
    this.required = input.required;
    this.proofOff = (input.getAttribute("data-connect-proof") || "").toLowerCase() === "off";
    this.links = parseDepends(input.getAttribute("data-connect-depends")).map(function (link) {
      return {name: link.name, selector: link.selector, el: find(link.selector)};
    });
    this.children = [];
    this.options = [];
    this.active = -1;
    this.multiple = input.hasAttribute("data-connect-multiple");
    if (this.multiple) this.takePrefilled();
    this.seq = 0;
    this.ready = false;
    this.id = "connect-field-" + (++counter);
    // Every listener the field adds goes through this controller (on), and so do its requests: destroy aborts it.
    this.life = new AbortController();
    this.original = {value: input.value, attributes: Array.prototype.map.call(input.attributes, function (a) {
      return [a.name, a.value];
    })};
    fields.set(input, this);
    allFields.push(this);
  }

  Field.prototype.on = function (target, type, listener) {
    target.addEventListener(type, listener, {signal: this.life.signal});
  };
  Field.prototype.text = function (key, params) { return text(this, key, params); };
  Field.prototype.errorText = function (error) {
    var code = error && (error.status ? "http" : error.code);
    if (code && message(this, "error_" + code) != null) return this.text("error_" + code, {status: error.status});
    return (error && error.message) || this.text("setupFailed");
  };

  Field.prototype.start = function () {
    var self = this;
    this.wrapper = element("div", {"class": "connect-field", "data-connect-state": "loading"});
    this.input.parentNode.insertBefore(this.wrapper, this.input);
    this.wrapper.appendChild(this.input);
    this.status = element("p", {"class": "connect-field-status", id: this.id + "-status"});
    this.live = element("div", {"class": "connect-field-live", role: "status", "aria-live": "polite",
                                "aria-atomic": "true"});
    this.wrapper.appendChild(this.status);
    this.wrapper.appendChild(this.live);
    this.links.forEach(function (link) {
      var parent = link.el && fields.get(link.el);
      if (parent) { parent.children.push(self); link.field = parent; }
      // A plain field of the page (or a parent destroyed since): its value counts once committed (change).
      if (link.el) self.on(link.el, "change", function () { if (!link.field) self.parentChanged(); });
    });
    allFields.forEach(function (child) {  // started fields whose parent was destroyed and is enhanced again
      child.links.forEach(function (link) {
        if (link.el === self.input && !link.field && child.wrapper && child !== self) {
          link.field = self;
          self.children.push(child);
          child.parentChanged();
        }
      });
    });
    this.setState("loading", this.text("loading"));
    describe(this).then(function (description) {
      if (self.gone) return;
      self.description = description;
      self.ready = true;
      if (description.search || self.multiple) self.buildCombobox(); else self.buildSelect();
      self.refresh();
      // A list shows the label of a pre-filled key once loaded; a search field asks for it, when it has a lookup.
      if (self.multiple) {
        if (self.wantedLabels().length && (description.lookup || !description.search)) askLabel(self);
      } else if (description.search && description.lookup && self.key && self.labelWanted) askLabel(self);
    }, function (error) {
      self.setState("error", self.errorText(error));
    });
  };

  Field.prototype.setState = function (state, text) {
    var control = this.select || this.input;
    this.wrapper.setAttribute("data-connect-state", state);
    this.status.textContent = text || "";
    this.status.className = "connect-field-status" + (state === "error" ? " is-error" : "");
    if (state === "error") {
      this.failed = true;
      control.setAttribute("aria-invalid", "true");
      this.announce(text);
    } else if (this.failed && state !== "loading") {  // cleared by the next answer
      this.failed = false;
      control.removeAttribute("aria-invalid");
      this.validate();
    }
  };
  Field.prototype.announce = function (text) {
    var live = this.live;
    live.textContent = "";
    clearTimeout(this.liveTimer);
    this.liveTimer = setTimeout(function () { live.textContent = text || ""; }, 50);  // a change screen readers notice
  };

  Field.prototype.carriers = function () {
    if (this.carried) return;  // a list that became a combobox keeps its carriers
    this.carried = true;
    var labelName = this.input.getAttribute("data-connect-label-name");
    if (this.multiple) {  // one hidden input per key (and per label), rebuilt at each change
      this.keyName = this.input.name;
      this.labelName = labelName;
      this.carrierBox = element("span", {"class": "connect-field-carriers"});
      this.wrapper.appendChild(this.carrierBox);
      this.carry();
    } else {
      this.hidden = element("input", {type: "hidden", name: this.input.name});
      this.hidden.value = this.key;
      this.wrapper.appendChild(this.hidden);
      fields.set(this.hidden, this);
    }
    if (labelName && !this.multiple) {
      this.labelCarrier = element("input", {type: "hidden", name: labelName});
      this.labelCarrier.value = this.key ? this.label : "";
      this.wrapper.appendChild(this.labelCarrier);
    }
    var proofName = this.input.getAttribute("data-connect-proof-name") || (this.input.name + "_proof");
    if (!this.proofOff && this.input.name) {
      this.proofCarrier = element("input", {type: "hidden", name: proofName});
      this.wrapper.appendChild(this.proofCarrier);
    }
    this.input.removeAttribute("name");
    this.form = this.input.form;
    watchForm(this.form);
  };

  // The values the item's dependencies get, the first required one still empty (the field waits for it), and a
  // required one the page does not connect at all.
  Field.prototype.values = function () {
    var values = {}, waiting = null, missing = null, links = this.links;
    (this.description.dependencies || []).forEach(function (dependency) {
      var link = links.filter(function (l) { return l.name === dependency.name; })[0];
      var value = "";
      if (link && link.field) value = link.field.key;
      else if (link && link.el) value = (link.el.value || "").trim();
      else if (!dependency.optional && !missing) missing = {name: dependency.name, selector: link && link.selector};
      values[dependency.name] = value;
      if (!value && !dependency.optional && link && (link.field || link.el) && !waiting) waiting = link;
    });
    return {values: values, waiting: waiting, missing: missing};
  };

  Field.prototype.refresh = function () {
    var state = this.values();
    if (state.missing) {
      this.disable(true);
      return this.setState("error", this.text(state.missing.selector ? "missingOnPage" : "missingLink",
                                              state.missing));
    }
    if (state.waiting) {
      this.disable(true);
      var link = state.waiting;
      return this.setState("waiting", link.field ? this.text("chooseFirst", {name: link.field.name}) :
                                      this.text("fillFirst", {name: labelText(link.el, this)}));
    }
    this.disable(false);
    if (this.select || !this.description.search) this.loadList(state.values);
    else this.setState("ready", "");
  };

  Field.prototype.disable = function (disabled) {
    (this.select || this.input).disabled = disabled;
    if (disabled) this.close();
    this.renderChips();  // a disabled field's values cannot be removed either
  };

  Field.prototype.parentChanged = function () {
    if (!this.ready) {  // still being set up: a pre-filled key no longer holds; the setup reads the parent then
      this.key = this.label = this.input.value = "";
      if (this.multiple) this.chosen = [];
      return this.children.forEach(function (child) { child.parentChanged(); });
    }
    this.setKey("", "");
    if (this.select) this.fillSelect([]);
    else this.input.value = "";
    this.abort();
    this.options = [];
    this.slice = null;
    this.refresh();
  };

  Field.prototype.setKey = function (key, label, text) {
    if (this.multiple) return this.setChosen(key ? [{key: key, label: label, text: text || ""}] : []);
    var changed = key !== this.key;
    this.key = key;
    this.label = label;
    if (changed) this.keyText = text || "";
    if (this.hidden) this.hidden.value = key;
    if (this.labelCarrier) this.labelCarrier.value = key ? label : "";
    this.validate();
    this.prove();
    if (!changed) return;
    (this.select || this.input).dispatchEvent(new CustomEvent("connect-field:change", {
      bubbles: true, detail: {key: key, label: label}}));
    this.children.forEach(function (child) { child.parentChanged(); });
  };

  // The label of a pre-filled key, from /labels: shown unless the person has typed over the key meanwhile.
  Field.prototype.labelArrived = function (key, label) {
    if (this.gone) return;
    if (this.multiple) return this.chosenLabelArrived(key, label);
    if (this.key !== key) return;
    this.label = label;
    if (this.labelCarrier) this.labelCarrier.value = label;
    if (!this.select && this.input.value === key) this.input.value = label;
  };

  // Ask Connect to sign the chosen key (once per key and values); the proof goes in its hidden input.
  Field.prototype.prove = function () {
    if (!this.proofCarrier) return;
    if (!this.key) {
      this.proofCarrier.value = "";
      this.provenFor = this.provingFor = this.proofPending = null;
      this.wrapper.removeAttribute("data-connect-proof-state");
      return;
    }
    var body = {keys: this.multiple ? this.chosenKeys() : [this.key], values: this.values().values};
    // Several keys: each with the text it was chosen with (one proof covers them all).
    if (this.description.search) {
      body.q = this.multiple ? this.chosen.map(function (c) { return c.text; }) : this.keyText;
    }
    var signature = JSON.stringify(body), self = this;
    if (signature === this.provenFor || signature === this.provingFor) return;
    this.proofCarrier.value = "";
    this.provenFor = null;
    this.provingFor = signature;
    this.wrapper.setAttribute("data-connect-proof-state", "pending");
    var url = this.base + "/api/items/" + this.itemId + "/selections";
    var pending = call(this.input, url, this.life.signal, body).then(
      function (answer) {
        if (self.provingFor !== signature) return;
        self.proofCarrier.value = (answer && answer.proof) || "";
        self.provenFor = signature;
        self.wrapper.setAttribute("data-connect-proof-state", "ready");
      }, function () {
        // The form goes without a proof, which the system receiving it sees.
        if (self.provingFor === signature) self.wrapper.setAttribute("data-connect-proof-state", "failed");
      }).then(function () {
        if (self.provingFor === signature) self.provingFor = null;
        if (self.proofPending === pending) self.proofPending = null;
      });
    this.proofPending = pending;
  };

  // A required search field with typed text but no choice is invalid: the browser says so and blocks the form.
  Field.prototype.validate = function () {
    if (!this.listbox) return;
    if (this.multiple) this.input.required = this.required && !this.chosen.length;  // one value is enough
    var invalid = this.required && this.input.value && !this.key ? this.text("textWithoutChoice") : "";
    this.input.setCustomValidity(invalid);
    if (!invalid && !this.failed && !this.input.validity.valueMissing) this.input.removeAttribute("aria-invalid");
  };

  Field.prototype.abort = function () {
    clearTimeout(this.timer);
    this.searchDue = false;
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.seq++;
  };

  // Options for these values and text: from the page's earlier answers, or one request; only the newest counts.
  // A slice of SLICE options from `offset` (Connect's offset/limit), unless a dependency of the item takes a name.
  // done(error, options, answer): the answer says has_more, total_known and complete.
  Field.prototype.fetchOptions = function (values, text, done, offset) {
    var params = new URLSearchParams();
    if (text) params.set("q", text);
    if (!("offset" in values) && !("limit" in values)) {
      params.set("offset", String(offset || 0));
      params.set("limit", String(SLICE));
    }
    Object.keys(values).forEach(function (name) { params.set(name, values[name]); });
    var url = this.base + "/api/items/" + this.itemId + "/options?" + params.toString();
    var cacheKey = url + "|" + (this.input.getAttribute("data-connect-token") || "");
    this.abort();
    var seq = this.seq, self = this;
    if (answers.has(cacheKey)) return done(null, answers.get(cacheKey).options || [], answers.get(cacheKey));
    this.controller = typeof AbortController === "function" ? new AbortController() : null;
    this.setState("loading", this.text("loadingOptions"));
    this.wrapper.setAttribute("aria-busy", "true");
    call(this.input, url, this.controller && this.controller.signal).then(function (body) {
      remember(cacheKey, body);
      if (seq === self.seq) done(null, body.options || [], body);
    }, function (error) {
      if (seq === self.seq && !(error && error.name === "AbortError")) done(error, [], {});
    }).then(function () { if (seq === self.seq) self.wrapper.removeAttribute("aria-busy"); });
  };

  // --- a list loaded once (items without $userInput) ---------------------------------------------------------------

  Field.prototype.buildSelect = function () {
    var select = element("select", {"class": this.input.className});
    if (this.input.id) { select.id = this.input.id; this.input.removeAttribute("id"); }
    ["aria-describedby", "required", "aria-required"].forEach(function (name) {
      if (this.input.hasAttribute(name)) select.setAttribute(name, this.input.getAttribute(name));
    }, this);
    addToken(select, "aria-describedby", this.status.id);
    this.wrapper.insertBefore(select, this.input);
    this.input.hidden = true;
    this.input.disabled = true;  // the hidden carrier submits the key
    this.select = select;
    fields.set(select, this);
    this.carriers();
    var self = this;
    this.on(select, "invalid", function () { select.setAttribute("aria-invalid", "true"); });
    this.on(select, "change", function () {
      if (select.value) select.removeAttribute("aria-invalid");
      var option = select.options[select.selectedIndex];
      self.setKey(select.value, select.value ? option.textContent : "");
    });
    this.fillSelect([]);
  };

  Field.prototype.fillSelect = function (options, placeholder) {
    var select = this.select, key = this.key, found = null;
    select.textContent = "";
    select.appendChild(element("option", {value: ""}, placeholder || this.text("choose")));
    options.forEach(function (option) {
      var el = element("option", {value: String(option.key)}, option.label);
      if (String(option.key) === key) { el.selected = true; found = option; }
      select.appendChild(el);
    });
    if (found) this.setKey(key, found.label);  // a pre-filled key shows (and sends) the list's label
    if (key && !found) {  // a pre-filled key the list does not have: kept, not silently changed
      var kept = element("option", {value: key}, this.label || key);
      kept.selected = true;
      select.appendChild(kept);
    }
  };

  Field.prototype.loadList = function (values) {
    if (!this.select) return this.search("");  // a list shown as a combobox: its first slice
    var self = this;
    this.select.disabled = true;
    this.fillSelect([], this.text("loading"));
    this.fetchOptions(values, "", function (error, options, answer) {
      self.select.disabled = false;
      if (error) {
        self.fillSelect([], self.text("listFailed"));
        return self.setState("error", self.errorText(error));
      }
      if (answer.has_more || Math.max(answer.total_known || 0, options.length) > SELECT_AT_MOST) {
        self.becomeCombobox();  // a long list: searchable, read in slices, for good
        return self.showSlice(values, "", options, answer);
      }
      self.fillSelect(options, self.text(options.length ? "choose" : "listEmpty"));
      self.setState("ready", options.length ? "" : self.text("noOptions"));
      self.announce(self.text("available", {count: options.length}));
    });
  };

  // A list too long for a <select>: the input comes back as a combobox whose typing filters on Connect (`q`).
  Field.prototype.becomeCombobox = function () {
    var select = this.select;
    if (select.id) { this.input.id = select.id; select.removeAttribute("id"); }
    fields.delete(select);
    select.remove();
    this.select = null;
    this.input.hidden = false;
    this.input.disabled = false;
    this.buildCombobox();
    if (this.key && this.labelWanted) this.labelFromSliceOrConnect();
  };

  Field.prototype.labelFromSliceOrConnect = function () {
    var key = this.key, found = this.options.filter(function (o) { return String(o.key) === key; })[0];
    if (found) this.labelArrived(key, found.label);
    else askLabel(this);
  };

  // --- an autocomplete (items whose query uses $userInput, long lists, and fields with several values) -----------

  // Search items may show all options on Down without typing when $userInput is optional; lists always may.
  Field.prototype.showsAll = function () {
    return !this.description.search || this.description.user_input_optional;
  };

  Field.prototype.buildCombobox = function () {
    var input = this.input, self = this;
    this.carriers();
    input.value = this.key && !this.multiple ? this.label : (this.multiple ? "" : input.value);
    var label = input.labels && input.labels[0];
    if (label && !label.id) { label.id = this.id + "-label"; this.labelNamed = label; }
    this.listbox = element("ul", {"class": "connect-field-listbox", id: this.id + "-listbox", role: "listbox"});
    if (label) this.listbox.setAttribute("aria-labelledby", label.id);
    else this.listbox.setAttribute("aria-label", this.name);
    if (this.multiple) this.listbox.setAttribute("aria-multiselectable", "true");
    this.listbox.hidden = true;
    this.wrapper.insertBefore(this.listbox, this.status);
    if (this.multiple) this.buildChips();
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", this.listbox.id);
    input.setAttribute("autocomplete", "off");
    // Read with the field, as GOV.UK's accessible-autocomplete does: how to use it without seeing it.
    var hint = element("span", {"class": "connect-field-live", id: this.id + "-hint"},
                       this.text(this.showsAll() ? "hintAll" : "hint") + " " + this.text("hintKeys") +
                       (this.multiple ? " " + this.text("hintMultiple") : ""));
    this.wrapper.appendChild(hint);
    addToken(input, "aria-describedby", hint.id);
    addToken(input, "aria-describedby", this.status.id);
    this.on(input, "input", function () { self.onInput(); });
    this.on(input, "invalid", function () { input.setAttribute("aria-invalid", "true"); });
    this.validate();
    this.on(input, "keydown", function (event) { self.onKeyDown(event); });
    this.on(input, "blur", function () { self.blurTimer = setTimeout(function () { self.onBlur(); }, 150); });
    this.on(this.listbox, "mousedown", function (event) { event.preventDefault(); });  // keep the focus
    this.on(this.listbox, "click", function (event) {
      var li = event.target.closest("[role=option]");
      if (li) self.choose(parseInt(li.getAttribute("data-index"), 10));
    });
    this.on(this.listbox, "scroll", function () {  // scrolled to its end: the next slice
      var box = self.listbox;
      if (box.scrollTop + box.clientHeight >= box.scrollHeight - 8) self.loadMore();
    });
  };

  Field.prototype.onInput = function () {
    var self = this, text = this.input.value;
    if (this.key && !this.multiple) this.setKey("", "");  // typing again: the previous choice no longer holds
    this.validate();
    this.abort();
    if (!text && !this.showsAll()) {
      this.close();
      this.options = [];
      this.slice = null;
      return this.setState("ready", "");
    }
    this.searchDue = true;  // the list shown is about to change: no further slice of it meanwhile
    this.timer = setTimeout(function () { self.searchDue = false; self.search(text); }, this.debounce);
  };

  Field.prototype.search = function (text) {
    var self = this, state = this.values();
    if (state.waiting || state.missing) return;
    this.fetchOptions(state.values, text, function (error, options, answer) {
      if (error) { self.close(); return self.setState("error", self.errorText(error)); }
      self.showSlice(state.values, text, options, answer);
    });
  };

  // The first slice of the options for these values and text; what the answer says of the rest.
  Field.prototype.showSlice = function (values, text, options, answer) {
    this.slice = {values: values, text: text, hasMore: !!answer.has_more && options.length > 0,
                  total: answer.total_known, complete: !!answer.complete};
    this.show(options, text);
  };

  Field.prototype.show = function (options, text) {
    this.options = options;
    this.optionsText = text;
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    this.listbox.textContent = "";
    this.renderOptions(0);
    if (!options.length) {
      this.close();
      this.setState("ready", this.text(text ? "noMatch" : "noOptions", {text: text}));
      return this.announce(this.text("noOptions"));
    }
    this.setState("ready", "");
    if (document.activeElement === this.input) this.open();
    this.announce(this.countText() + " " + this.text("howToChoose"));
  };

  // The options from `from` on, and a last "More" option while the list has more.
  Field.prototype.renderOptions = function (from) {
    var listbox = this.listbox, id = this.id, self = this;
    var more = listbox.querySelector(".connect-field-more");
    if (more) more.remove();
    this.options.slice(from).forEach(function (option, at) {
      var index = from + at, chosen = self.multiple && self.isChosen(String(option.key));
      listbox.appendChild(element("li", {id: id + "-option-" + index, role: "option",
                                         "aria-selected": chosen ? "true" : "false",
                                         "class": "connect-field-option", "data-index": String(index)},
                                  option.label));
    });
    if (this.slice && this.slice.hasMore && this.options.length) {
      listbox.appendChild(element("li", {id: id + "-more", role: "option", "aria-selected": "false",
                                         "class": "connect-field-option connect-field-more",
                                         "data-index": String(this.options.length)}, this.text("moreOptions")));
    }
  };

  // "12 options available.", or for a list read in slices "100 of 5,000 options shown; …".
  Field.prototype.countText = function () {
    var shown = this.options.length, slice = this.slice;
    if (!slice || !slice.hasMore) return this.text("available", {count: shown});
    return this.text(slice.complete ? "shownOf" : "shownOfAtLeast",
                     {shown: this.number(shown), total: this.number(Math.max(slice.total || 0, shown))});
  };

  // The next slice, after the options shown (scrolled to the end, "More" chosen, End on the last option).
  Field.prototype.loadMore = function () {
    var slice = this.slice, self = this, from = this.options.length, finished = false;
    if (!slice || !slice.hasMore || this.searchDue || this.loadingMore === this.seq) return;  // one at a time
    var moreActive = this.active === from;
    this.fetchOptions(slice.values, slice.text, function (error, options, answer) {
      finished = true;
      self.loadingMore = null;
      if (self.slice !== slice) return;
      if (error) return self.setState("error", self.errorText(error));
      self.options = self.options.concat(options);
      slice.hasMore = !!answer.has_more && options.length > 0;
      slice.total = answer.total_known;
      slice.complete = !!answer.complete;
      self.renderOptions(from);
      self.setState("ready", "");
      if (moreActive) self.activate(Math.min(from, self.optionCount() - 1));
      else if (self.active >= 0) self.activate(self.active);
      self.announce(self.countText());
    }, from);
    if (!finished) this.loadingMore = this.seq;  // the request's number: any newer request supersedes it
  };

  Field.prototype.optionCount = function () { return this.listbox ? this.listbox.children.length : 0; };

  Field.prototype.open = function () {
    if (!this.listbox || !this.options.length) return;
    this.listbox.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  };
  Field.prototype.close = function () {
    if (!this.listbox) return;
    this.listbox.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.activate(-1);
  };
  Field.prototype.isOpen = function () { return this.listbox && !this.listbox.hidden; };

  // The active option (aria-activedescendant). With one value it is also the selected one (aria-selected), as in the
  // APG list autocomplete; with several, aria-selected marks the chosen options and the active one has a class.
  Field.prototype.activate = function (index) {
    var previous = this.listbox.querySelector(".is-active");
    if (previous) {
      previous.classList.remove("is-active");
      if (!this.multiple) previous.setAttribute("aria-selected", "false");
    }
    this.active = index;
    if (index < 0) return this.input.removeAttribute("aria-activedescendant");
    var li = this.listbox.children[index];
    li.classList.add("is-active");
    if (!this.multiple) li.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", li.id);
    if (li.scrollIntoView) li.scrollIntoView({block: "nearest"});
  };

  Field.prototype.choose = function (index) {
    if (index === this.options.length && this.slice && this.slice.hasMore) return this.loadMore();
    var option = this.options[index];
    if (!option) return;
    if (this.multiple) return this.toggle(option);
    this.input.value = option.label;
    this.close();
    this.setState("ready", "");
    this.setKey(String(option.key), option.label, this.optionsText);
    this.announce(this.text("selected", {label: option.label}));
  };

  Field.prototype.onKeyDown = function (event) {
    var count = this.optionCount(), open = this.isOpen(), active = this.active;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!open) {
          if (!count && (this.input.value || this.showsAll())) return this.search(this.input.value);
          this.open();
          if (event.altKey) return;
        }
        if (count) this.activate(active + 1 < count ? active + 1 : 0);
        return;
      case "ArrowUp":
        event.preventDefault();
        if (!open) this.open();
        if (count) this.activate(active > 0 ? active - 1 : count - 1);
        return;
      case "Home":
        if (open && active >= 0) { event.preventDefault(); this.activate(0); }
        return;
      case "End":  // the last option; End there (or on "More") loads the next slice
        if (!open || active < 0) return;
        event.preventDefault();
        if (active >= this.options.length - 1 && this.slice && this.slice.hasMore) return this.loadMore();
        this.activate(this.options.length - 1);
        return;
      case "ArrowLeft": case "ArrowRight":
        if (active >= 0) this.activate(-1);  // back to editing the text
        return;
      case "Enter":
        if (open && active >= 0) { event.preventDefault(); this.choose(active); }
        else if (open) { event.preventDefault(); this.close(); }
        return;
      case "Escape":
        if (open) { event.preventDefault(); this.close(); }
        else if (this.input.value) { event.preventDefault(); this.input.value = ""; this.onInput(); }
        return;
      case "Backspace":  // in the empty text of a field with several values: the last one goes
        if (this.multiple && !this.input.value && this.chosen.length) {
          event.preventDefault();
          this.removeAt(this.chosen.length - 1);
        }
        return;
      case "Tab":
        // With several values Tab only leaves: choosing there could remove a value the person meant to keep.
        if (open && active >= 0 && !this.multiple) this.choose(active);
        else this.close();
        return;
    }
  };

  Field.prototype.onBlur = function () {
    if (document.activeElement === this.input) return;
    this.close();
    if (this.input.value && !this.key && this.wrapper.getAttribute("data-connect-state") === "ready") {
      this.setState("ready", this.text("textWithoutChoice"));
    }
  };

  // --- teardown ----------------------------------------------------------------------------------------------------

  // Listeners, timers, requests and the nodes the field made go; the input is back as it was, where it was.
  Field.prototype.destroy = function () {
    var self = this, input = this.input, wrapper = this.wrapper;
    this.gone = true;
    this.abort();
    this.life.abort();
    clearTimeout(this.blurTimer);
    clearTimeout(this.liveTimer);
    (this.prefilled || []).forEach(function (el) { el.disabled = false; });  // the page's pre-filled values
    allFields.splice(allFields.indexOf(this), 1);
    [input, this.select, this.hidden].forEach(function (el) { if (el) fields.delete(el); });
    unwatchForm(this.form);
    this.links.forEach(function (link) {
      if (link.field) link.field.children = link.field.children.filter(function (c) { return c !== self; });
    });
    this.children.forEach(function (child) {  // the child reads the plain input from now on
      child.links.forEach(function (link) { if (link.field === self) link.field = null; });
      if (!child.gone) child.parentChanged();
    });
    if (this.labelNamed) this.labelNamed.removeAttribute("id");
    input.setCustomValidity("");
    Array.prototype.slice.call(input.attributes).forEach(function (a) { input.removeAttribute(a.name); });
    this.original.attributes.forEach(function (a) { input.setAttribute(a[0], a[1]); });
    input.value = this.original.value;
    if (wrapper && wrapper.parentNode) {
      wrapper.parentNode.insertBefore(input, wrapper);
      wrapper.parentNode.removeChild(wrapper);
    }
  };

  // --- several values: chips ------------------------------------------------------------------------------------

  // Pre-filled values: the input's own value (with data-connect-label), then every <input type="hidden"> of the
  // same form with the input's name (each with its data-connect-label, or none: Connect's /labels tells it). Those
  // inputs are disabled, not removed: the widget's own carry the keys, and destroy gives them back.
  Field.prototype.takePrefilled = function () {
    var input = this.input, name = input.name, scope = input.form || document, chosen = [];
    this.max = Math.min(parseInt(input.getAttribute("data-connect-max"), 10) || MAX_KEYS, MAX_KEYS);
    function take(key, label) {
      if (key && !chosen.some(function (c) { return c.key === key; })) {
        chosen.push({key: key, label: label || key, text: "", wanted: !label});
      }
    }
    if (input.value) take(input.value, input.getAttribute("data-connect-label"));
    this.prefilled = Array.prototype.filter.call(scope.querySelectorAll("input[type=hidden]"), function (el) {
      return name && el.name === name && !el.disabled && !fields.has(el);
    });
    this.prefilled.forEach(function (el) {
      take(el.value, el.getAttribute("data-connect-label"));
      el.disabled = true;
    });
    this.chosen = chosen.slice(0, MAX_KEYS);
    this.key = this.chosenKeys().join(",");
    this.labelWanted = false;
  };

  Field.prototype.chosenKeys = function () { return this.chosen.map(function (c) { return c.key; }); };
  Field.prototype.isChosen = function (key) { return this.chosenKeys().indexOf(key) !== -1; };
  Field.prototype.wantedLabels = function () {
    if (this.multiple) return this.chosen.filter(function (c) { return c.wanted; }).map(function (c) { return c.key; });
    return this.key && this.labelWanted ? [this.key] : [];
  };

  Field.prototype.buildChips = function () {
    var self = this;
    this.chips = element("ul", {"class": "connect-field-chips", "aria-label": this.text("chosenList",
                                                                                        {name: this.name})});
    this.wrapper.insertBefore(this.chips, this.input);
    this.on(this.chips, "click", function (event) {
      var button = event.target.closest("button[data-key]");
      if (!button) return;
      var at = self.chosenKeys().indexOf(button.getAttribute("data-key"));
      if (at >= 0) { self.removeAt(at); self.input.focus(); }
    });
    this.renderChips();
  };

  Field.prototype.renderChips = function () {
    var chips = this.chips, self = this;
    if (!chips) return;
    chips.textContent = "";
    this.chosen.forEach(function (chosen) {
      var li = element("li", {"class": "connect-field-chip-item"});
      var button = element("button", {type: "button", "class": "connect-field-chip", "data-key": chosen.key,
                                      "aria-label": self.text("removeChip", {label: chosen.label})}, chosen.label);
      button.disabled = self.input.disabled;
      li.appendChild(button);
      chips.appendChild(li);
    });
  };

  // One hidden input per key under the input's name, and per label under data-connect-label-name, in order.
  Field.prototype.carry = function () {
    var box = this.carrierBox, self = this;
    if (!box) return;
    box.textContent = "";
    this.chosen.forEach(function (chosen) {
      var carrier = element("input", {type: "hidden", name: self.keyName});
      carrier.value = chosen.key;
      box.appendChild(carrier);
      fields.set(carrier, self);
    });
    if (this.labelName) {
      this.chosen.forEach(function (chosen) {
        var carrier = element("input", {type: "hidden", name: self.labelName});
        carrier.value = chosen.label;
        box.appendChild(carrier);
      });
    }
  };

  Field.prototype.toggle = function (option) {
    var key = String(option.key), at = this.chosenKeys().indexOf(key);
    if (at >= 0) return this.removeAt(at);
    if (this.chosen.length >= this.max) {
      var refused = this.text("maxReached", {max: this.number(this.max)});
      this.setState("ready", refused);
      return this.announce(refused);
    }
    this.input.value = "";
    this.setState("ready", "");
    this.setChosen(this.chosen.concat([{key: key, label: option.label, text: this.optionsText || ""}]));
    this.announce(this.text("selected", {label: option.label}));
  };

  Field.prototype.removeAt = function (index) {
    var removed = this.chosen[index];
    if (!removed) return;
    this.setChosen(this.chosen.filter(function (c, at) { return at !== index; }));
    this.setState("ready", "");
    this.announce(this.text("removed", {label: removed.label}));
  };

  // Every change of the chosen values: chips, carriers, options marked, validity, one proof for all keys.
  Field.prototype.setChosen = function (chosen) {
    var before = this.chosenKeys().join("\n");
    this.chosen = chosen;
    this.key = this.chosenKeys().join(",");  // a parent field with several values gives its keys joined by ","
    this.label = chosen.map(function (c) { return c.label; }).join(", ");
    this.renderChips();
    this.carry();
    this.markChosen();
    this.validate();
    if (this.description) this.prove();
    if (before === this.chosenKeys().join("\n")) return;
    this.input.dispatchEvent(new CustomEvent("connect-field:change", {bubbles: true, detail: {
      keys: this.chosenKeys(), labels: chosen.map(function (c) { return c.label; }),
      key: this.key, label: this.label}}));
    this.children.forEach(function (child) { child.parentChanged(); });
  };

  Field.prototype.markChosen = function () {
    if (!this.listbox) return;
    var self = this, options = this.listbox.querySelectorAll("[role=option]:not(.connect-field-more)");
    Array.prototype.forEach.call(options, function (li) {
      var option = self.options[parseInt(li.getAttribute("data-index"), 10)];
      li.setAttribute("aria-selected", option && self.isChosen(String(option.key)) ? "true" : "false");
    });
  };

  Field.prototype.chosenLabelArrived = function (key, label) {
    var changed = false;
    this.chosen.forEach(function (c) {
      if (c.key === key && c.wanted) { c.label = label; c.wanted = false; changed = true; }
    });
    if (!changed) return;
    this.label = this.chosen.map(function (c) { return c.label; }).join(", ");
    this.renderChips();
    this.carry();
  };

  Field.prototype.number = function (n) {
    try { return Number(n).toLocaleString(languageOf(this.input)); } catch (error) { return String(n); }
  };

  // --- the page ----------------------------------------------------------------------------------------------------

  // ConnectField.enhance(an input, or an element holding inputs; none: the whole page)
  function enhance(root) {
    root = root || document;
    var inputs = Array.prototype.slice.call(root.querySelectorAll("input[data-connect-item]"));
    if (root.matches && root.matches("input[data-connect-item]")) inputs.push(root);
    var created = inputs.filter(function (input) { return !fields.has(input); })
      .map(function (input) { return new Field(input); });  // every parent known first
    created.forEach(function (field) { field.start(); });
  }

  // ConnectField.destroy(input, select, or an element holding fields; none: every field of the page)
  function destroy(root) {
    root = root || document;
    var own = fields.get(root);
    var going = own ? [own] : allFields.filter(function (field) { return root.contains(field.wrapper); });
    going.forEach(function (field) { field.gone = true; });  // children going too are not refreshed first
    going.forEach(function (field) { field.destroy(); });
  }

  window.ConnectField = {enhance: enhance, destroy: destroy, configure: configure};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { enhance(); });
  else enhance();
})();
