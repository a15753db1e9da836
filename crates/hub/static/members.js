// The members page: change a role, remove a member, add one (managers only; the API decides).
(function () {
  'use strict';
  var base = '/projects/' + document.currentScript.dataset.project + '/members';
  var problem = document.getElementById('problem');
  async function call(method, path, body) {
    var result = await hub.api(method, path, body);
    if (result.ok) { location.reload(); return; }
    problem.hidden = false;
    problem.textContent = hub.refusal(result);
  }
  document.addEventListener('change', function (e) {
    if (!e.target.classList.contains('role')) return;
    var tr = e.target.closest('tr');
    var buckets = tr.dataset.buckets ? tr.dataset.buckets.split(',') : null;
    call('PATCH', base + '/' + tr.dataset.user, { role: e.target.value, buckets: buckets });
  });
  // A member's buckets, edited in place: the ticked ones (none: all), their role kept.
  document.addEventListener('click', function (e) {
    if (!e.target.classList.contains('save-scope')) return;
    var tr = e.target.closest('tr');
    var ticked = Array.prototype.map.call(tr.querySelectorAll('input.scope-bucket:checked'), function (box) { return box.value; });
    call('PATCH', base + '/' + tr.dataset.user, { role: tr.querySelector('select.role').value, buckets: ticked.length ? ticked : null });
  });
  document.addEventListener('click', function (e) {
    if (!e.target.classList.contains('remove')) return;
    var tr = e.target.closest('tr');
    if (confirm('Remove ' + tr.cells[0].innerText + ' from this project?')) call('DELETE', base + '/' + tr.dataset.user);
  });
  document.getElementById('add-member').addEventListener('submit', function (e) {
    e.preventDefault();
    var form = new FormData(e.target);
    var buckets = form.getAll('bucket');
    call('POST', base, { username: form.get('username'), role: form.get('role'), buckets: buckets.length ? buckets : null });
  });
})();
