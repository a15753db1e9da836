// What the pages share: sizes and times left as people read them, calling the JSON API with the session's CSRF token (and sending the person
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
  // 950 B, 1.5 KiB, 12 MiB, 3.0 GiB (as the pages' own sizes read).
  function human(bytes) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i === 0 ? Math.round(bytes) : bytes.toFixed(bytes < 10 ? 1 : 0)) + ' ' + units[i];
  }
  // "about 1 min 5 s left".
  function timeLeft(seconds) {
    var s = Math.max(0, Math.round(seconds));
    return 'about ' + (s >= 3600 ? Math.floor(s / 3600) + ' h ' : '') + (s >= 60 ? Math.floor(s % 3600 / 60) + ' min ' : '') + (s % 60) + ' s left';
  }
  // What a drop holds, taken while its event runs (the browser lends the items only then): folders
  // and files as entries, read afterwards, or plain files where a browser offers no entries.
  function dropped(items) {
    var out = { entries: [], files: [] };
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind !== 'file') continue;
      var entry = items[i].webkitGetAsEntry && items[i].webkitGetAsEntry();
      if (entry) out.entries.push(entry);
      else if (items[i].getAsFile()) out.files.push(items[i].getAsFile());
    }
    return out;
  }
  return { csrf: csrf, dropped: dropped, api: api, refusal: refusal, typed: typed, metadataOf: metadataOf, human: human, timeLeft: timeLeft };
})();
