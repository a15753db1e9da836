// Bulk actions on a bucket page: select assets, edit their metadata all at once (all or nothing,
// checked by the hub against the bucket's schema).
(function () {
  'use strict';
  var script = document.currentScript;
  var project = script.dataset.project;
  var bucket = script.dataset.bucket;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var picks = function () { return Array.prototype.slice.call(document.querySelectorAll('input.pick')); };
  var result = document.getElementById('bulk-result');
  function update() {
    var n = picks().filter(function (p) { return p.checked; }).length;
    document.getElementById('selected-count').textContent = n;
    document.getElementById('bulk-apply').disabled = n === 0;
  }
  document.addEventListener('change', function (e) {
    if (e.target.id === 'select-all') picks().forEach(function (p) { p.checked = e.target.checked; });
    if (e.target.id === 'select-all' || e.target.classList.contains('pick')) update();
  });
  document.getElementById('bulk-form').addEventListener('submit', async function (e) {
    e.preventDefault();
    var form = e.target;
    var metadata = {};
    new FormData(form).forEach(function (value, key) {
      if (value === '') return;
      metadata[key] = form.elements[key].dataset.kind === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
    });
    var ids = picks().filter(function (p) { return p.checked; }).map(function (p) { return Number(p.value); });
    if (!Object.keys(metadata).length) { result.textContent = 'Fill in at least one field to change.'; return; }
    var response = await fetch('/api/v1/projects/' + project + '/buckets/' + bucket + '/assets', {
      method: 'PATCH', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ ids: ids, metadata: metadata }),
    });
    if (response.status === 401) { location.href = '/login?expired=1&next=' + encodeURIComponent(location.pathname + location.search); return; }
    var data = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      var fields = (data.fields || []).map(function (f) { return f.field + ': ' + f.message; }).join('; ');
      result.textContent = 'Nothing changed: ' + (data.message || response.status) + (fields ? ' (' + fields + ')' : '');
      return;
    }
    location.reload();
  });
  update();
})();
