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
