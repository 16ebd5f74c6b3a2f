/* The bot check's proof-of-work: find a nonce so that SHA-256(token + ":" + nonce) starts with
   the form's number of zero bits (data-pow), with the browser's own WebCrypto. When it is found
   the question in words is not needed and is hidden; without WebCrypto the question stays. */
(function () {
  "use strict";
  // A form shown again with errors: the summary first, so a screen reader reads it at once.
  var summary = document.getElementById("hata-ozeti");
  if (summary) {
    summary.focus();
  }
  if (!window.crypto || !window.crypto.subtle || !window.TextEncoder) {
    return;
  }
  var encoder = new TextEncoder();
  var BATCH = 256;

  function zeroBits(buffer, bits) {
    var bytes = new Uint8Array(buffer);
    for (var i = 0; bits > 0; i += 1, bits -= 8) {
      var mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((bytes[i] & mask) !== 0) {
        return false;
      }
    }
    return true;
  }

  function solve(token, bits, start) {
    var attempts = [];
    for (var n = start; n < start + BATCH; n += 1) {
      attempts.push(window.crypto.subtle.digest("SHA-256", encoder.encode(token + ":" + n)));
    }
    return Promise.all(attempts).then(function (digests) {
      for (var i = 0; i < digests.length; i += 1) {
        if (zeroBits(digests[i], bits)) {
          return start + i;
        }
      }
      return solve(token, bits, start + BATCH);
    });
  }

  function protect(form) {
    var token = form.querySelector("input[name=form_token]").value;
    var bits = parseInt(form.getAttribute("data-pow"), 10);
    var nonce = form.querySelector("input[name=pow_nonce]");
    var question = form.querySelector(".bot-question");
    var status = form.querySelector(".bot-status");
    var solved = false;
    var waiting = false;
    solve(token, bits, 0).then(function (found) {
      nonce.value = String(found);
      solved = true;
      if (question) {
        question.hidden = true;
      }
      if (waiting) {
        form.submit();
      }
    });
    form.addEventListener("submit", function (event) {
      if (!solved) {
        event.preventDefault();
        waiting = true;
        if (status) {
          status.textContent = "Güvenlik doğrulaması yapılıyor, form birazdan gönderilecek…";
        }
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-pow]"), protect);
})();
