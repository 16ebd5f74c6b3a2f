// Evidence page: sends the chosen files one by one, with a progress bar per file (XHR upload
// events). Without JavaScript the form posts all files at once and the page answers per file.
(function () {
  "use strict";
  var form = document.getElementById("kanit-formu");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var input = document.getElementById("f-dosya");
  var list = document.getElementById("yukleme-durumu");
  var csrf = form.querySelector("input[name=csrf]").value;

  function row(file) {
    var item = document.createElement("li");
    var label = document.createElement("span");
    label.className = "progress-name";
    label.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", file.name + " yükleniyor");
    var state = document.createElement("span");
    state.className = "progress-state";
    state.textContent = "Bekliyor";
    item.appendChild(label);
    item.appendChild(bar);
    item.appendChild(state);
    list.appendChild(item);
    return { item: item, bar: bar, state: state };
  }

  function send(file, view) {
    return new Promise(function (resolve) {
      var body = new FormData();
      body.append("csrf", csrf);
      body.append("dosya", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          view.bar.value = Math.round((event.loaded / event.total) * 100);
          view.state.textContent = "%" + view.bar.value;
        }
      });
      xhr.addEventListener("load", function () {
        var ok = false, message = "Yüklenemedi (" + xhr.status + ").";
        try {
          var answer = JSON.parse(xhr.responseText).results[0];
          ok = answer.ok;
          message = answer.message + (answer.sha256 ? " SHA-256: " + answer.sha256 : "");
        } catch (ignored) { /* a refusal before our page answered, e.g. too large */ }
        view.bar.value = 100;
        view.state.textContent = message;
        view.item.className = ok ? "ok" : "refused";
        resolve(ok);
      });
      xhr.addEventListener("error", function () {
        view.state.textContent = "Bağlantı hatası; yeniden deneyin.";
        view.item.className = "refused";
        resolve(false);
      });
      xhr.send(body);
    });
  }

  form.addEventListener("submit", function (event) {
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length) { return; } // the server says "choose a file"
    event.preventDefault();
    list.textContent = "";
    var views = files.map(row);
    var results = [];
    files.reduce(function (previous, file, index) {
      return previous.then(function () {
        return send(file, views[index]).then(function (ok) { results.push(ok); });
      });
    }, Promise.resolve()).then(function () {
      var done = document.createElement("li");
      if (results.every(Boolean)) {
        done.textContent = "Bütün dosyalar yüklendi; liste yenileniyor…";
        list.appendChild(done);
        window.setTimeout(function () { window.location.assign(window.location.pathname); }, 1200);
      } else {
        var link = document.createElement("a");
        link.href = window.location.pathname;
        link.textContent = "Yüklenenleri listede görmek için sayfayı yenileyin";
        done.appendChild(link);
        list.appendChild(done);
      }
    });
  });
}());
