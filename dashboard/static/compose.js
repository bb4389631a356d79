// The compose page's live preview. As the owner types, the form (with its CSRF token) is posted
// to the dashboard's preview endpoint, and the piece of page it answers (who the broadcast
// reaches, three messages as members would read them) replaces the preview. Without
// JavaScript, the Preview button asks the server for the same.
"use strict";
(function () {
  var form = document.getElementById("compose");
  var box = document.getElementById("live-preview");
  if (!form || !box) {
    return;
  }
  var timer = null;
  var asked = 0;  // only the answer to the latest question is shown

  function refresh() {
    var mine = ++asked;
    fetch(form.dataset.preview, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("preview answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (mine === asked) {
          box.innerHTML = html;  // drawn and escaped by the server
        }
      })
      .catch(function () {
        if (mine === asked) {
          box.textContent = box.dataset.stale;
        }
      });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
