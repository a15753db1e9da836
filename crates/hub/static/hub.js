// What the pages share: calling the JSON API with the session's CSRF token (and sending the person
// to sign in again when the session has ended), the hub's reasons for a refusal, and metadata read
// from a form by each field's kind.
window.hub = (function () {
  'use strict';
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  async function api(method, path, body) {
    var response = await fetch('/api/v1' + path, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      location.href = '/login?expired=1&next=' + encodeURIComponent(location.pathname + location.search);
      throw new Error('the session ended');
    }
    var data = await response.json().catch(function () { return {}; });
    return { ok: response.ok, status: response.status, data: data };
  }
  // The message and each field's problem, in one line.
  function refusal(result) {
    var fields = (result.data.fields || []).map(function (f) { return f.field + ': ' + f.message; }).join('; ');
    return (result.data.message || 'refused (' + result.status + ')') + (fields ? ' (' + fields + ')' : '');
  }
  function typed(value, kind) {
    return kind === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
  }
  // The filled-in fields of a form (except `skip`), integers as numbers.
  function metadataOf(form, skip) {
    var metadata = {};
    new FormData(form).forEach(function (value, key) {
      if (value === '' || (skip || []).indexOf(key) >= 0) return;
      metadata[key] = typed(value, form.elements[key].dataset.kind);
    });
    return metadata;
  }
  return { csrf: csrf, api: api, refusal: refusal, typed: typed, metadataOf: metadataOf };
})();
