// Bulk actions on a bucket page: select assets, then Edit their metadata all at once (all or
// nothing, checked by the hub against the bucket's schema), Download them, or — for managers —
// Revalidate or Delete them. The actions are enabled while something is selected.
(function () {
  'use strict';
  var script = document.currentScript;
  var path = '/projects/' + script.dataset.project + '/buckets/' + script.dataset.bucket + '/assets';
  var picks = function () { return Array.prototype.slice.call(document.querySelectorAll('input.pick')); };
  var chosen = function () { return picks().filter(function (p) { return p.checked; }); };
  var $ = function (id) { return document.getElementById(id); };
  var result = $('bulk-result');
  var form = $('bulk-form');
  function update() {
    var n = chosen().length;
    $('selected-count').textContent = n;
    ['bulk-edit', 'bulk-download', 'bulk-revalidate', 'bulk-delete', 'bulk-apply'].forEach(function (id) {
      if ($(id)) $(id).disabled = n === 0;
    });
  }
  document.addEventListener('change', function (e) {
    if (e.target.id === 'select-all') picks().forEach(function (p) { p.checked = e.target.checked; });
    if (e.target.id === 'select-all' || e.target.classList.contains('pick')) update();
  });
  $('bulk-edit').addEventListener('click', function () {
    form.hidden = !form.hidden;
    $('bulk-edit').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) { var first = form.querySelector('input, select'); if (first) first.focus(); }
  });
  // Each selected file as a link of its own (a browser asks before starting many downloads at once).
  $('bulk-download').addEventListener('click', function () {
    result.textContent = '';
    result.appendChild(document.createTextNode('Download: '));
    chosen().forEach(function (p, i) {
      var a = document.createElement('a');
      a.href = '/api/v1/assets/' + p.value + '/content';
      a.setAttribute('download', '');
      a.textContent = p.getAttribute('aria-label').replace(/^Select /, '');
      if (i) result.appendChild(document.createTextNode(' · '));
      result.appendChild(a);
    });
  });
  async function each(method, suffix, done) {
    for (var p of chosen()) {
      var answer = await hub.api(method, '/assets/' + p.value + suffix);
      if (!answer.ok) { result.textContent = p.getAttribute('aria-label').replace(/^Select /, '') + ': ' + hub.refusal(answer); return; }
    }
    done();
  }
  if ($('bulk-revalidate')) $('bulk-revalidate').addEventListener('click', function () {
    each('POST', '/revalidate', function () { location.reload(); });
  });
  if ($('bulk-delete')) $('bulk-delete').addEventListener('click', function () {
    var n = chosen().length;
    if (confirm('Delete ' + n + ' asset' + (n === 1 ? '' : 's') + '? Their files are removed for good.')) each('DELETE', '', function () { location.reload(); });
  });
  form.addEventListener('submit', async function (e) {
    e.preventDefault();
    var metadata = hub.metadataOf(e.target);
    var ids = chosen().map(function (p) { return Number(p.value); });
    if (!Object.keys(metadata).length) { result.textContent = 'Fill in at least one field to change.'; return; }
    var changed = await hub.api('PATCH', path, { ids: ids, metadata: metadata });
    if (!changed.ok) { result.textContent = 'Nothing changed: ' + hub.refusal(changed); return; }
    location.reload();
  });
  update();
})();
