// Bulk actions on a bucket page: select assets, edit their metadata all at once (all or nothing,
// checked by the hub against the bucket's schema).
(function () {
  'use strict';
  var script = document.currentScript;
  var path = '/projects/' + script.dataset.project + '/buckets/' + script.dataset.bucket + '/assets';
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
    var metadata = hub.metadataOf(e.target);
    var ids = picks().filter(function (p) { return p.checked; }).map(function (p) { return Number(p.value); });
    if (!Object.keys(metadata).length) { result.textContent = 'Fill in at least one field to change.'; return; }
    var changed = await hub.api('PATCH', path, { ids: ids, metadata: metadata });
    if (!changed.ok) { result.textContent = 'Nothing changed: ' + hub.refusal(changed); return; }
    location.reload();
  });
  update();
})();
