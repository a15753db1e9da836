// The requests page: pick requests to fulfil, accept / ask again / reject / reopen, create and edit.
(function () {
  'use strict';
  var here = document.currentScript.dataset;
  var problem = document.getElementById('problem');
  async function api(method, path, body) {
    var result = await hub.api(method, path, body);
    if (!result.ok) { problem.hidden = false; problem.textContent = hub.refusal(result); }
    return result.ok;
  }
  var upload = document.getElementById('upload-assets');
  document.addEventListener('change', function (e) {
    if (!e.target.classList.contains('pick-request') || !upload) return;
    upload.disabled = !document.querySelector('.pick-request:checked');
  });
  if (upload) upload.addEventListener('click', function () {
    var ids = Array.prototype.map.call(document.querySelectorAll('.pick-request:checked'), function (c) { return c.value; });
    location.href = '/projects/' + here.project + '/buckets/' + here.bucket + '/upload?requests=' + ids.join(',');
  });
  document.addEventListener('click', async function (e) {
    if (!e.target.classList.contains('decide')) return;
    var event = e.target.dataset.event;
    var id = e.target.closest('tr').dataset.request;
    var reason = null;
    if (event === 'ask_redelivery' || event === 'reject') {
      reason = prompt(event === 'reject' ? 'Why is it rejected?' : 'What should the vendor deliver again, and why?');
      if (!reason) return;
    }
    if (await api('POST', '/requests/' + id + '/transition', { event: event, reason: reason })) location.reload();
  });
  // One form creates a request, or edits the one whose Edit was pressed (title and metadata).
  var form = document.getElementById('new-request');
  var editor = document.getElementById('request-editor');
  function editing(row) {
    form.dataset.editing = row ? row.dataset.request : '';
    form.reset();
    editor.querySelector('summary').textContent = row ? 'Edit request: ' + row.dataset.title : 'New request';
    form.querySelector('button[type="submit"]').textContent = row ? 'Save changes' : 'Create request';
    document.getElementById('cancel-edit').hidden = !row;
    if (!row) return;
    form.elements.title.value = row.dataset.title;
    var metadata = JSON.parse(row.dataset.metadata);
    Object.keys(metadata).forEach(function (k) { if (form.elements[k]) form.elements[k].value = metadata[k]; });
    editor.open = true;
    form.elements.title.focus();
  }
  document.addEventListener('click', function (e) {
    if (e.target.classList.contains('edit-request')) editing(e.target.closest('tr'));
    if (e.target.id === 'cancel-edit') editing(null);
  });
  if (form) form.addEventListener('submit', async function (e) {
    e.preventDefault();
    var body = { title: form.elements.title.value, metadata: hub.metadataOf(form, ['title']) };
    var done = form.dataset.editing
      ? await api('PATCH', '/requests/' + form.dataset.editing, body)
      : await api('POST', '/projects/' + here.project + '/buckets/' + here.bucket + '/requests', body);
    if (done) location.reload();
  });
})();
