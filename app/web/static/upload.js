// Upload page, progressive enhancement: the forms work without this file.
// - drop files on the drop zone (they go into the file input) and see their names;
// - while the workbooks are sent and checked, a progress bar with the share sent;
// - on "Confirm import", workbooks are imported one request each, with a progress bar.
(function () {
  "use strict";

  function showProgress(form, text, value, max) {
    var box = form.querySelector(".progress");
    if (!box) { return; }
    box.hidden = false;
    var bar = box.querySelector("progress");
    if (max !== undefined) { bar.max = max; bar.value = value; }
    else if (value !== undefined) { bar.value = value; }
    else { bar.removeAttribute("value"); }
    box.querySelector(".progress-text").textContent = text;
  }

  function listChosen(zone, input) {
    var list = zone.querySelector(".chosen");
    if (!list) { return; }
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (f) {
      var li = document.createElement("li");
      li.textContent = f.name;
      list.appendChild(li);
    });
  }

  function setUpDrop(form) {
    var zone = form.querySelector("[data-drop]");
    var input = form.querySelector("input[type=file]");
    if (!zone || !input) { return; }
    var hint = zone.querySelector(".drop-only");
    if (hint) { hint.hidden = false; }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        listChosen(zone, input);
      }
    });
    input.addEventListener("change", function () { listChosen(zone, input); });
  }

  function setUpSend(form) {
    form.addEventListener("submit", function (event) {
      if (!window.XMLHttpRequest || !window.FormData) { return; }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      var busy = form.getAttribute("data-busy");
      var sent = form.getAttribute("data-sent") || busy;
      showProgress(form, busy, 0, 100);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var pct = Math.round((100 * e.loaded) / e.total);
        showProgress(form, sent.replace("{pct}", String(pct)), pct);
      });
      xhr.addEventListener("load", function () {
        if (xhr.responseURL && xhr.responseURL !== window.location.href && xhr.status === 200) {
          window.location.assign(xhr.responseURL);
        } else {
          document.open();
          document.write(xhr.responseText);
          document.close();
        }
      });
      xhr.addEventListener("error", function () { form.submit(); });
      xhr.send(new FormData(form));
    });
  }

  function setUpConfirm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.FormData) { return; }
      var picked = Array.prototype.filter.call(
        form.querySelectorAll("input[name=pick]"), function (box) { return box.checked; });
      if (picked.length < 2) { return; }  // one workbook: the plain form shows its result
      event.preventDefault();
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      var token = form.querySelector("input[name=csrf_token]").value;
      var busy = form.getAttribute("data-busy");
      var done = 0;
      function say() {
        showProgress(form, busy.replace("{done}", String(done + 1))
          .replace("{total}", String(picked.length)), done, picked.length);
      }
      function next() {
        if (done >= picked.length) {
          // a new query string, so the browser loads the page again (a hash alone would not)
          window.location.assign(form.action.replace(/\/import$/, "") + "?imported=1#results");
          return;
        }
        say();
        var body = new FormData();
        body.append("csrf_token", token);
        body.append("pick", picked[done].value);
        body.append("step", "true");
        fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
          .then(function (r) {
            if (!r.ok) { throw new Error(String(r.status)); }
            done += 1;
            next();
          })
          .catch(function () { form.submit(); });
      }
      next();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var upload = document.querySelector("form.upload-form");
    if (upload) { setUpDrop(upload); setUpSend(upload); }
    var confirm = document.querySelector("form.confirm-form");
    if (confirm) { setUpConfirm(confirm); }
  });
})();
