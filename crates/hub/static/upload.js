// The delivery page: drop files (or frame folders, each one package), tag them with metadata (many
// rows at once), choose the request each fulfils, press DELIVER. The hub checks the whole
// declaration before a byte moves; then every file goes up with tus-js-client (resumable, CRC-free
// but offset-checked), progress follows the offsets the hub acknowledged, and DELIVER completes.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('upload-config').textContent);
  var rows = [];
  var busy = false;
  // The delivery declared by the first press of DELIVER; a retry continues it.
  var current = null;
  // When the bytes started to move, and how many the hub had then: the rate and time left.
  var started = null;
  var STREAMS = 4;
  var CHUNK = 8 * 1024 * 1024;
  // Opening a dropped file costs Chromium about half a millisecond of the page's time.
  var FILES_PER_SLICE = 100;
  var $ = function (id) { return document.getElementById(id); };

  var human = hub.human;
  // Text for HTML, in element content and in quoted attributes alike (a dropped file may be
  // named `a" onfocus="…`).
  function text(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  }
  // Yields to the browser so that no task runs long while thousands of files are read.
  function breathe() { return new Promise(function (r) { setTimeout(r, 0); }); }
  // Work in slices of about 25 ms: yields only when the current slice is used up.
  var sliceStart = performance.now();
  async function slice() {
    if (performance.now() - sliceStart < 25) return;
    await breathe();
    sliceStart = performance.now();
  }

  // ---- collecting what was dropped ----
  // The request a new row fulfils: the one chosen on the requests page, if just one was.
  function fulfils(row) {
    if (config.chosen && config.requests.length === 1) setRequest(row, config.requests[0].id);
    return row;
  }
  // The request's own metadata (e.g. its reel) is where the file's starts. Choosing another
  // request replaces what came from the one before (unless the user changed it since), and
  // keeps what the user typed.
  function setRequest(row, id) {
    var before = row.fromRequest || {};
    Object.keys(before).forEach(function (k) { if (row.metadata[k] === before[k]) delete row.metadata[k]; });
    row.request = id;
    row.fromRequest = {};
    var request = config.requests.find(function (r) { return r.id === id; });
    if (request) Object.keys(request.metadata).forEach(function (k) {
      var value = String(request.metadata[k]);
      row.metadata[k] = value;
      row.fromRequest[k] = value;
    });
  }
  // A new row, or — when continuing a delivery — the file for one of its rows.
  function place(row) {
    if (!config.resume) { rows.push(fulfils(row)); return; }
    var waiting = rows.find(function (r) { return r.name === row.name && r.kind === row.kind; });
    if (!waiting) { problem(row.name + ' is not part of delivery ' + config.resume.id + '.'); return; }
    if (waiting.size !== row.size) { problem(row.name + ' is not the same file: it has ' + human(row.size) + ', the delivery ' + human(waiting.size) + '.'); return; }
    waiting.file = row.file;
    waiting.members = row.members;
    if (waiting.status !== 'uploaded') waiting.status = 'ready to continue';
  }
  function addFile(file) {
    place({ kind: 'file', name: file.name, size: file.size, file: file, metadata: {}, request: null, selected: true });
  }
  function addPackage(name, members) {
    var row = { kind: 'package', name: name, members: members, metadata: {}, request: null, selected: true };
    row.size = members.reduce(function (sum, m) { return sum + m.size; }, 0);
    if (!members.some(function (m) { return m.name === 'checksum.txt'; })) {
      row.error = 'no checksum.txt beside the frames: make it with `npack checksum -s ' + name + '`';
    }
    var nested = members.filter(function (m) { return m.path.indexOf('/') >= 0; });
    if (nested.length) row.error = 'packages are flat, but ' + nested[0].path + ' is in a subfolder';
    if (config.resume && row.error) { problem(row.name + ': ' + row.error); return; }
    place(row);
  }
  // "Reading r1_frames… 12000 files": a big folder takes a while to read.
  var readingName = '';
  function reading(count, name) {
    if (name) readingName = name;
    $('reading').hidden = count === null;
    $('reading').textContent = 'Reading ' + readingName + '… ' + (count || 0) + ' files so far';
  }
  function readBatch(reader) {
    return new Promise(function (resolve, reject) { reader.readEntries(resolve, reject); });
  }
  function entryFile(entry) {
    return new Promise(function (resolve, reject) { entry.file(resolve, reject); });
  }
  // Every file under a dropped folder, in batches (a folder of 30,000 frames stays responsive).
  // Every file under a dropped folder. Its entries are listed first, without pause: Chromium hands
  // them over 100 at a time while it is asked straight away, but piles the rest into one batch (and
  // one long task) if the page does other work in between. Then the files are opened a slice at a
  // time, the page breathing in between (a folder of 30,000 frames stays responsive).
  async function readFolder(dir, prefix, out) {
    var reader = dir.createReader();
    var entries = [];
    for (;;) {
      var batch = await readBatch(reader);
      if (!batch.length) break;
      for (var b = 0; b < batch.length; b++) entries.push(batch[b]);
    }
    var files = entries.filter(function (e) { return e.isFile && e.name.charAt(0) !== '.'; });
    for (var at = 0; at < files.length; at += FILES_PER_SLICE) {
      var found = await Promise.all(files.slice(at, at + FILES_PER_SLICE).map(entryFile));
      for (var i = 0; i < found.length; i++) {
        out.push({ name: found[i].name, path: prefix + found[i].name, file: found[i], size: found[i].size });
      }
      reading(out.length);
      await breathe();
    }
    for (var j = 0; j < entries.length; j++) {
      if (entries[j].isDirectory) await readFolder(entries[j], prefix + entries[j].name + '/', out);
    }
    return out;
  }
  async function collectDrop(items) {
    var entries = [];
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind !== 'file') continue;
      var entry = items[i].webkitGetAsEntry && items[i].webkitGetAsEntry();
      // A browser without the entries API still gives the files (though not folders).
      if (entry) entries.push(entry);
      else if (items[i].getAsFile()) addFile(items[i].getAsFile());
    }
    for (var k = 0; k < entries.length; k++) {
      if (entries[k].isDirectory) {
        reading(0, entries[k].name);
        addPackage(entries[k].name, await readFolder(entries[k], '', []));
        reading(null);
      } else addFile(await entryFile(entries[k]));
    }
    render();
  }
  async function collectPicked(files) {
    var folders = {};
    sliceStart = performance.now();
    for (var i = 0; i < files.length; i++) {
      var f = files[i];
      var rel = f.webkitRelativePath || '';
      if (!rel) { addFile(f); continue; }
      var top = rel.split('/')[0];
      var inner = rel.slice(top.length + 1);
      if (inner.split('/').pop().charAt(0) === '.') continue;
      // Reading a picked file's size may wait on the browser: a slice at a time.
      (folders[top] = folders[top] || []).push({ name: f.name, path: inner, file: f, size: f.size });
      if (i % 16 === 15) await slice();
    }
    Object.keys(folders).forEach(function (top) { addPackage(top, folders[top]); });
    render();
  }

  // ---- the table ----
  var pending = false;
  function render() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }
  function requestOptions(row) {
    var html = '<option value="">choose…</option>';
    config.requests.forEach(function (r) {
      html += '<option value="' + r.id + '"' + (row.request === r.id ? ' selected' : '') + '>' + text(r.title) + '</option>';
    });
    return html;
  }
  function draw() {
    $('rows-wrap').hidden = $('actions').hidden = $('tagger').hidden = rows.length === 0;
    var html = '';
    rows.forEach(function (row, i) {
      var meta = Object.keys(row.metadata).map(function (k) { return k + '=' + row.metadata[k]; }).join(', ');
      var progress = row.total ? '<progress max="' + row.total + '" value="' + (row.sent || 0) + '"></progress> ' : '';
      html += '<tr data-row="' + i + '">' +
        '<td><input type="checkbox" class="pick" aria-label="Select ' + text(row.name) + '"' + (row.selected ? ' checked' : '') + (busy ? ' disabled' : '') + '></td>' +
        '<td>' + text(row.name) + (row.kind === 'package' ? ' <span class="badge">package' + (row.members ? ' · ' + row.members.length + ' files' : '') + '</span>' : '') +
        (row.error ? '<div class="row-error">' + text(row.error) + '</div>' : '') + '</td>' +
        '<td class="num">' + human(row.size) + '</td>' +
        (config.request_based ? '<td><select class="req" aria-label="Request for ' + text(row.name) + '"' + (busy ? ' disabled' : '') + '>' + requestOptions(row) + '</select></td>' : '') +
        '<td class="muted">' + text(meta || '—') + '</td>' +
        '<td>' + progress + '<span class="muted">' + text(row.status || 'ready') + '</span></td></tr>';
    });
    $('rows').innerHTML = html;
    var total = 0, sent = 0;
    rows.forEach(function (r) { total += r.size; sent += r.sent || 0; });
    $('overall').max = total || 1;
    $('overall').value = sent;
    var pace = '';
    if (started && sent > started.sent && sent < total) {
      var rate = (sent - started.sent) / ((performance.now() - started.at) / 1000);
      pace = ' · ' + human(rate) + '/s · ' + hub.timeLeft((total - sent) / rate);
    }
    $('overall-text').textContent = rows.length + ' to deliver · ' + human(sent) + ' of ' + human(total) + ' acknowledged by the hub' + pace;
    $('deliver').disabled = busy || rows.length === 0;
  }
  // What is still wrong with a row, as far as the page can tell: a request to choose, a
  // required field missing, a value that is not one of the choices or not a number. A row the hub
  // refused is re-checked so as it changes (its error goes once fixed; the hub has the last word
  // at DELIVER).
  function recheck(row) {
    if (row.error === undefined) return;
    var problems = [];
    if (config.request_based && !row.request) problems.push('choose the request it fulfils');
    config.fields.forEach(function (f) {
      var value = row.metadata[f.key];
      if (value === undefined || value === '') {
        if (f.required) problems.push(f.label + ' is required');
      } else if (f.choices.length && f.choices.indexOf(String(value)) < 0) {
        problems.push(f.label + ' must be one of ' + f.choices.join(', '));
      } else if (f.kind === 'integer' && !/^-?\d+$/.test(String(value))) {
        problems.push(f.label + ' must be a whole number');
      }
    });
    if (problems.length) row.error = problems.join('; ');
    else delete row.error;
  }
  $('rows').addEventListener('change', function (e) {
    var tr = e.target.closest('tr');
    if (!tr) return;
    var row = rows[Number(tr.dataset.row)];
    if (e.target.classList.contains('pick')) row.selected = e.target.checked;
    if (e.target.classList.contains('req')) {
      setRequest(row, e.target.value ? Number(e.target.value) : null);
      recheck(row);
      render();
    }
  });
  $('select-all').addEventListener('change', function (e) {
    rows.forEach(function (r) { r.selected = e.target.checked; });
    // The boxes are set in place: redrawing the table under the pointer would lose clicks.
    document.querySelectorAll('#rows input.pick').forEach(function (box) { box.checked = e.target.checked; });
  });
  $('meta-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var form = new FormData(e.target);
    rows.forEach(function (row) {
      if (!row.selected) return;
      form.forEach(function (value, key) { if (value !== '') row.metadata[key] = value; });
      recheck(row);
    });
    render();
  });

  // ---- dropping and picking ----
  var drop = $('drop');
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    drop.classList.remove('over');
    if (!busy) collectDrop(e.dataTransfer.items);
  });
  // The FileList is live: it is copied before the input is cleared for the next pick.
  function picked(e) {
    performance.mark('contenthub:picked');
    var files = Array.prototype.slice.call(e.target.files);
    e.target.value = '';
    if (!busy) collectPicked(files);
    // From here on the files are taken in batches between which the page stays responsive.
    performance.mark('contenthub:yielded');
  }
  // The pickers are buttons (reachable and pressed from the keyboard) that open the hidden inputs.
  document.querySelectorAll('[data-pick]').forEach(function (button) {
    button.addEventListener('click', function () { if (!busy) $(button.dataset.pick).click(); });
  });
  $('pick-files').addEventListener('change', picked);
  $('pick-folder').addEventListener('change', picked);

  // ---- DELIVER ----
  function typed(key, value) {
    var field = config.fields.find(function (f) { return f.key === key; });
    return hub.typed(value, field && field.kind);
  }
  function declaration() {
    return {
      bucket: config.bucket,
      files: rows.map(function (row) {
        var metadata = {};
        Object.keys(row.metadata).forEach(function (k) { metadata[k] = typed(k, row.metadata[k]); });
        var file = { name: row.name, metadata: metadata, request_id: row.request };
        if (row.kind === 'package') file.package = row.members.map(function (m) { return { name: m.path, size: m.size }; });
        else file.size = row.size;
        return file;
      }),
    };
  }
  function problem(message) {
    $('problem').hidden = !message;
    $('problem').textContent = message || '';
  }
  var api = hub.api;
  function send(file, options, onAcknowledged) {
    return new Promise(function (resolve, reject) {
      var upload = new tus.Upload(file, Object.assign({
        chunkSize: CHUNK,
        retryDelays: [0, 1000, 3000, 5000, 10000],
        headers: { 'X-CSRF-Token': hub.csrf },
        removeFingerprintOnSuccess: true,
        onChunkComplete: function (_chunk, accepted) { onAcknowledged(accepted); },
        onSuccess: resolve,
        onError: reject,
      }, options));
      upload.start();
    });
  }
  async function runJobs(jobs) {
    var next = 0;
    async function worker() {
      while (next < jobs.length) await jobs[next++]();
    }
    var workers = [];
    for (var i = 0; i < STREAMS; i++) workers.push(worker());
    await Promise.all(workers);
  }
  $('deliver').addEventListener('click', async function () {
    problem('');
    var missing = rows.filter(function (r) { return r.status !== 'uploaded' && !r.file && !r.members; });
    if (missing.length) {
      problem('Choose ' + missing.map(function (r) { return r.name; }).join(', ') + ' again to continue: the browser cannot reopen a file by itself.');
      return;
    }
    rows.forEach(function (r) { delete r.error; });
    busy = true;
    render();
    var declared = current ? { ok: true, data: current } : await api('POST', '/projects/' + config.project + '/deliveries', declaration());
    if (!declared.ok) {
      busy = false;
      (declared.data.fields || []).forEach(function (f) {
        var at = /^files\[(\d+)\]\.?(.*)$/.exec(f.field);
        if (at && rows[Number(at[1])]) {
          var row = rows[Number(at[1])];
          row.error = (row.error ? row.error + '; ' : '') + (at[2] ? at[2].replace(/^metadata\./, '') + ': ' : '') + f.message;
        }
      });
      problem((declared.data.message || 'the hub refused the delivery') + ' — nothing was uploaded.');
      render();
      return;
    }
    var delivery = current = declared.data;
    if (config.resume) {
      for (var p = 0; p < rows.length; p++) {
        if (rows[p].kind !== 'package' || rows[p].status === 'uploaded') continue;
        var asset = delivery.files.find(function (f) { return f.name === rows[p].name; }).asset_id;
        rows[p].open = {};
        for (var after = ''; ;) {
          var page = await api('GET', '/assets/' + asset + '/members?incomplete=true&limit=5000&after=' + encodeURIComponent(after));
          if (!page.ok || !page.data.length) break;
          page.data.forEach(function (m) { rows[p].open[m.name] = m; });
          after = page.data[page.data.length - 1].name;
        }
        var left = Object.keys(rows[p].open).reduce(function (sum, k) { return sum + rows[p].open[k].size; }, 0);
        rows[p].sent = rows[p].size - left;
      }
    }
    var jobs = [];
    rows.forEach(function (row) {
      var declaredFile = delivery.files.find(function (f) { return f.name === row.name; });
      row.total = row.size;
      row.sent = row.sent || 0;
      row.status = row.status === 'uploaded' ? 'uploaded' : 'queued';
      if (row.kind === 'file') {
        if (row.status === 'uploaded') return;
        jobs.push(function () {
          row.status = 'uploading';
          render();
          return send(row.file, { uploadUrl: new URL(declaredFile.upload, location.href).href, uploadSize: row.size }, function (accepted) {
            row.sent = accepted;
            render();
          }).then(function () { row.status = 'uploaded'; render(); });
        });
      } else {
        if (row.status === 'uploaded') return;
        var done = row.sent;
        row.members.forEach(function (m) {
          if (m.done) return;
          var known = row.open && row.open[m.path];
          if (row.open && !known) { m.done = true; return; } // the hub has this one whole
          jobs.push(function () {
            row.status = 'uploading';
            var where = known && known.upload
              ? { uploadUrl: new URL(known.upload, location.href).href, uploadSize: m.size }
              : {
                endpoint: '/api/v1/uploads',
                uploadDataDuringCreation: true,
                metadata: { project: String(config.project), bucket: config.bucket, filename: m.path, package: String(declaredFile.asset_id) },
              };
            return send(m.file, where, function () {}).then(function () {
              m.done = true;
              done += m.size;
              row.sent = done;
              if (done === row.size) row.status = 'uploaded';
              render();
            });
          });
        });
      }
    });
    started = { at: performance.now(), sent: rows.reduce(function (sum, r) { return sum + (r.sent || 0); }, 0) };
    render();
    try {
      await runJobs(jobs);
    } catch (e) {
      busy = false;
      problem('An upload stopped: ' + (e && e.message ? e.message : e) + '. Press DELIVER again to retry.');
      render();
      return;
    }
    var delivered = await api('POST', '/deliveries/' + delivery.id + '/deliver');
    if (!delivered.ok) {
      busy = false;
      problem(delivered.data.message || 'DELIVER failed');
      render();
      return;
    }
    location.href = config.done_url + (config.done_url.indexOf('?') < 0 ? '?' : '&') + 'delivered=' + delivery.id;
  });

  // Continuing a delivery: its files are listed, waiting for the person to choose them again.
  if (config.resume) {
    current = config.resume;
    config.resume.files.forEach(function (f) {
      rows.push({
        kind: f.package ? 'package' : 'file', name: f.name, size: f.size, file: null, members: null,
        metadata: {}, request: null, selected: true, total: f.size,
        sent: f.complete ? f.size : f.offset,
        status: f.complete ? 'uploaded' : 'choose it again to continue',
      });
    });
  }
  render();
})();
