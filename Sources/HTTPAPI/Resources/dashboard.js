// The dashboard's one script (served at /assets/dashboard.js, allowed by the page's nonce):
// a chosen CSV file goes into the costs form's text area, where it can be read before it is sent.
(function () {
  var file = document.getElementById('costs-file');
  if (!file) return;
  file.addEventListener('change', function (e) {
    var f = e.target.files[0];
    if (!f) return;
    f.text().then(function (text) { document.getElementById('costs-csv').value = text; });
  });
})();
