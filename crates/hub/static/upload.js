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
    place({ kind: 'file', name: file.name, size: file.size, file: file, metadata: {}, request: null, selected: false });
  }
  function addPackage(name, members) {
    var row = { kind: 'package', name: name, members: members, metadata: {}, request: null, selected: false };
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
  // What was dropped (hub.dropped took it from the drop event, which lends its items only while
  // it runs): loose files become rows, folders packages.
  async function collectDropped(dropped) {
    dropped.files.forEach(addFile);
    for (var k = 0; k < dropped.entries.length; k++) {
      var entry = dropped.entries[k];
      if (entry.isDirectory) {
        reading(0, entry.name);
        addPackage(entry.name, await readFolder(entry, '', []));
        reading(null);
      } else addFile(await entryFile(entry));
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

  // ---- the table: one row per file, its metadata editable in place like a spreadsheet ----
  // Each row's elements are made once and then updated in place (only the rows that changed),
  // so that typing into a cell is never interrupted by a redraw and thousands of rows stay cheap.
  var pending = false;
  var dirty = new Set();
  var everything = true;
  function render(row) {
    if (row) dirty.add(row); else everything = true;
    if (pending) return;
    pending = true;
    requestAnimationFrame(flush);
  }
  // Draws what is waiting for the next frame now: what a person does (a cell typed into, a box,
  // a request chosen, Apply, a refused DELIVER) shows before the next event, not a frame later (a
  // frame can be late, or not come in a tab the browser throttles). Progress still waits for the
  // frame.
  function flush() {
    if (!pending) return;
    pending = false;
    draw();
  }
  function requestOptions(row) {
    var html = '<option value="">choose…</option>';
    config.requests.forEach(function (r) {
      html += '<option value="' + r.id + '"' + (row.request === r.id ? ' selected' : '') + '>' + text(r.title) + '</option>';
    });
    return html;
  }
  function cellHtml(f, name) {
    var label = ' aria-label="' + text(f.label + ' of ' + name) + '" data-key="' + text(f.key) + '"';
    if (f.choices.length) {
      return '<select class="cell"' + label + '><option value="">—</option>' +
        f.choices.map(function (c) { return '<option>' + text(c) + '</option>'; }).join('') + '</select>';
    }
    return '<input class="cell"' + label + (f.kind === 'integer' ? ' inputmode="numeric" size="4"' : ' size="9"') +
      (f.kind === 'date' ? ' type="date"' : '') + '>';
  }
  // A row's elements, made once.
  function build(row) {
    var tr = document.createElement('tr');
    tr.row = row;
    tr.innerHTML =
      '<td><input type="checkbox" class="pick" aria-label="Select ' + text(row.name) + '"></td>' +
      '<td class="file">' + text(row.name) +
      (row.kind === 'package' ? ' <span class="badge">package' + (row.members ? ' · ' + row.members.length + ' files' : '') + '</span>' : '') +
      ' <span class="badge changed" hidden>changed</span><div class="row-error" hidden></div></td>' +
      '<td class="num">' + human(row.size) + '</td>' +
      (config.request_based ? '<td><select class="req" aria-label="Request for ' + text(row.name) + '">' + requestOptions(row) + '</select></td>' : '') +
      config.fields.map(function (f) { return '<td>' + cellHtml(f, row.name) + '</td>'; }).join('') +
      '<td class="progress"><progress hidden></progress> <span class="muted status"></span>' +
      (config.resume ? '' : ' <button type="button" class="linklike remove" aria-label="Remove ' + text(row.name) + '">remove</button>') + '</td>';
    return tr;
  }
  // What the row started with for `key` (its request's value, or nothing): a cell that differs was
  // changed here, and is marked so.
  function changed(row, key) {
    var now = row.metadata[key] === undefined ? '' : String(row.metadata[key]);
    var was = (row.fromRequest && row.fromRequest[key]) || '';
    return now !== was;
  }
  function update(row) {
    var tr = row.tr;
    var pick = tr.querySelector('.pick');
    pick.checked = !!row.selected;
    pick.disabled = busy;
    var error = tr.querySelector('.row-error');
    error.hidden = !row.error;
    error.textContent = row.error || '';
    var req = tr.querySelector('.req');
    if (req) {
      if (req !== document.activeElement) req.value = row.request ? String(row.request) : '';
      req.disabled = busy;
      req.setAttribute('aria-invalid', String(!!(row.bad && row.bad.request)));
    }
    var any = false;
    tr.querySelectorAll('.cell').forEach(function (cell) {
      var key = cell.dataset.key;
      var value = row.metadata[key] === undefined ? '' : String(row.metadata[key]);
      if (cell !== document.activeElement && cell.value !== value) {
        // A value that is not one of a choice field's options (from a request) is shown as it is.
        if (cell.tagName === 'SELECT' && value && !Array.prototype.some.call(cell.options, function (o) { return o.value === value; })) {
          var option = document.createElement('option');
          option.textContent = value;
          cell.appendChild(option);
        }
        cell.value = value;
      }
      cell.disabled = busy;
      var differs = changed(row, key);
      any = any || differs;
      cell.classList.toggle('changed', differs);
      cell.setAttribute('aria-invalid', String(!!(row.bad && row.bad[key])));
    });
    row.changed = any;
    tr.classList.toggle('changed', any);
    tr.querySelector('.badge.changed').hidden = !any;
    var progress = tr.querySelector('progress');
    progress.hidden = !row.total;
    if (row.total) { progress.max = row.total; progress.value = row.sent || 0; }
    tr.querySelector('.status').textContent = row.status || 'ready';
    var remove = tr.querySelector('.remove');
    if (remove) remove.hidden = busy;
  }
  function draw() {
    $('rows-wrap').hidden = $('actions').hidden = $('tagger').hidden = rows.length === 0;
    var fresh = document.createDocumentFragment();
    rows.forEach(function (row) {
      if (row.tr) return;
      row.tr = build(row);
      fresh.appendChild(row.tr);
      dirty.add(row);
    });
    $('rows').appendChild(fresh);
    (everything ? rows : Array.from(dirty)).forEach(update);
    dirty.clear();
    everything = false;
    selection();
    var total = 0, sent = 0;
    rows.forEach(function (r) { total += r.size; sent += r.sent || 0; });
    $('overall').max = total || 1;
    $('overall').value = sent;
    var pace = '';
    if (started && sent > started.sent && sent < total) {
      var rate = (sent - started.sent) / ((performance.now() - started.at) / 1000);
      pace = ' · ' + human(rate) + '/s · ' + hub.timeLeft((total - sent) / rate);
    }
    var edited = rows.filter(function (r) { return r.changed; }).length;
    $('overall-text').textContent = rows.length + ' to deliver' + (edited ? ' (' + edited + ' changed here)' : '') +
      ' · ' + human(sent) + ' of ' + human(total) + ' acknowledged by the hub' + pace;
    $('deliver').disabled = busy || rows.length === 0;
  }
  // "Select all" follows the rows' boxes, and the tagger says which rows it will change.
  function selection() {
    var chosen = rows.filter(function (r) { return r.selected; }).length;
    var all = $('select-all');
    all.checked = rows.length > 0 && chosen === rows.length;
    all.indeterminate = chosen > 0 && chosen < rows.length;
    all.disabled = busy;
    $('apply').textContent = chosen ? 'Apply to ' + chosen + ' selected row' + (chosen === 1 ? '' : 's')
      : 'Apply to all ' + rows.length + ' row' + (rows.length === 1 ? '' : 's');
    $('apply').disabled = busy || rows.length === 0;
  }
  // What is still wrong with a row, as far as the page can tell: a request to choose, a
  // required field missing, a value that is not one of the choices or not a number. A row the hub
  // refused is re-checked so as it changes (its error goes once fixed; the hub has the last word
  // at DELIVER); the cells at fault are marked.
  function recheck(row) {
    if (row.error === undefined) return;
    var problems = [];
    row.bad = {};
    if (config.request_based && !row.request) { problems.push('choose the request it fulfils'); row.bad.request = true; }
    config.fields.forEach(function (f) {
      var value = row.metadata[f.key];
      var wrong = null;
      if (value === undefined || value === '') {
        if (f.required) wrong = f.label + ' is required';
      } else if (f.choices.length && f.choices.indexOf(String(value)) < 0) {
        wrong = f.label + ' must be one of ' + f.choices.join(', ');
      } else if (f.kind === 'integer' && !/^-?\d+$/.test(String(value))) {
        wrong = f.label + ' must be a whole number';
      }
      if (wrong) { problems.push(wrong); row.bad[f.key] = true; }
    });
    if (problems.length) row.error = problems.join('; ');
    else { delete row.error; row.bad = {}; }
  }
  function rowOf(element) {
    var tr = element.closest('tr');
    return tr && tr.row;
  }
  // A cell typed into (or chosen from: lists and dates fire `input` too) is the row's metadata at once.
  function edit(e) {
    var row = rowOf(e.target);
    if (!row || !e.target.classList.contains('cell')) return;
    var key = e.target.dataset.key;
    if (e.target.value === '') delete row.metadata[key];
    else row.metadata[key] = e.target.value;
    recheck(row);
    render(row);
    flush();
  }
  $('rows').addEventListener('input', edit);
  // The row (its badge, its cells, what a request brought) and the selection's summary (Select
  // all, the tagger's button) follow at once.
  $('rows').addEventListener('change', function (e) {
    var row = rowOf(e.target);
    if (!row) return;
    if (e.target.classList.contains('pick')) { row.selected = e.target.checked; selection(); render(row); }
    if (e.target.classList.contains('req')) {
      setRequest(row, e.target.value ? Number(e.target.value) : null);
      recheck(row);
      render(row);
    }
    flush();
  });
  // As in a spreadsheet: Enter or ↓ goes to the same field of the next row, Shift+Enter or ↑ to
  // the one above (a date's arrows stay the date's, a list's arrows the list's).
  $('rows').addEventListener('keydown', function (e) {
    var cell = e.target;
    if (!cell.classList.contains('cell') || e.altKey || e.ctrlKey || e.metaKey) return;
    var step = 0;
    if (e.key === 'Enter') step = e.shiftKey ? -1 : 1;
    else if (cell.tagName === 'INPUT' && cell.type !== 'date' && e.key === 'ArrowDown') step = 1;
    else if (cell.tagName === 'INPUT' && cell.type !== 'date' && e.key === 'ArrowUp') step = -1;
    if (!step) return;
    e.preventDefault();
    var tr = step > 0 ? cell.closest('tr').nextElementSibling : cell.closest('tr').previousElementSibling;
    var next = tr && tr.querySelector('.cell[data-key="' + cell.dataset.key + '"]');
    if (next) { next.focus(); if (next.select) next.select(); }
  });
  $('rows').addEventListener('click', function (e) {
    if (!e.target.classList.contains('remove') || busy) return;
    var row = rowOf(e.target);
    // Focus goes to the next row's remove button (or the drop zone's), not back to the page's top.
    var after = row.tr.nextElementSibling || row.tr.previousElementSibling;
    rows.splice(rows.indexOf(row), 1);
    row.tr.remove();
    var focus = after ? after.querySelector('.remove') : document.querySelector('[data-pick="pick-files"]');
    if (focus) focus.focus();
    render();
  });
  $('select-all').addEventListener('change', function (e) {
    // The boxes follow at once, in place (not on the next frame: a click right after must find
    // them as they look).
    rows.forEach(function (r) {
      r.selected = e.target.checked;
      if (r.tr) r.tr.querySelector('.pick').checked = r.selected;
    });
    selection();
  });
  // Apply to the selected rows (or, with none selected, to every row, as the button says); the
  // selection is then cleared so that the next choice starts afresh.
  $('meta-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var form = new FormData(e.target);
    var keys = [];
    form.forEach(function (value, key) { if (value !== '') keys.push(key); });
    var chosen = rows.filter(function (r) { return r.selected; });
    var targets = chosen.length ? chosen : rows;
    targets.forEach(function (row) {
      form.forEach(function (value, key) { if (value !== '') row.metadata[key] = value; });
      row.selected = false;
      // The boxes follow at once, not on the next frame: a click landing in between would find a
      // box still ticked and tick it again.
      if (row.tr) row.tr.querySelector('.pick').checked = false;
      recheck(row);
    });
    var labels = keys.map(function (k) { var f = config.fields.find(function (x) { return x.key === k; }); return f ? f.label : k; });
    $('applied').textContent = keys.length
      ? labels.join(', ') + ' set on ' + targets.length + ' row' + (targets.length === 1 ? '' : 's') + '.'
      : 'Nothing to apply: fill in a field above first.';
    render();
    flush();
  });

  // ---- dropping and picking ----
  var drop = $('drop');
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    drop.classList.remove('over');
    if (!busy) collectDropped(hub.dropped(e.dataTransfer.items));
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
        // No resume record in the browser's storage (a write per file, and two for a package's
        // every member): a delivery is continued from what the hub says it has (its files'
        // upload addresses and offsets, a package's incomplete members), never from the browser.
        storeFingerprintForResuming: false,
        onChunkComplete: function (_chunk, accepted) { onAcknowledged(accepted); },
        onSuccess: resolve,
        onError: reject,
      }, options));
      upload.start();
    });
  }
  // A package goes up as a few streams: runs of whole files, back to back in declared order, each
  // one tus upload naming the files it carries (members=FIRST-LAST); the hub knows where each file
  // starts in it. A
  // stream the hub already has continues from its offset; files in none go in new streams, up to
  // STREAMS of them, balanced by bytes.
  function streamJobs(row, declaredFile) {
    var runs = [];
    var free = [];
    var carried = {};
    row.members.forEach(function (m, i) {
      var known = row.open && row.open[m.path];
      if (row.open && !known) return; // the hub has this one whole
      if (known && known.upload) (carried[known.upload] = carried[known.upload] || []).push(i);
      else free.push(i);
    });
    Object.keys(carried).forEach(function (url) {
      var files = carried[url];
      runs.push({ url: url, first: files[0], last: files[files.length - 1] });
    });
    var freeBytes = free.reduce(function (sum, i) { return sum + row.members[i].size; }, 0);
    var target = Math.max(1, Math.ceil(freeBytes / STREAMS));
    var first = null;
    var bytes = 0;
    free.forEach(function (i, k) {
      if (first === null) { first = i; bytes = 0; }
      bytes += row.members[i].size;
      if (free[k + 1] !== i + 1 || bytes >= target) { runs.push({ url: null, first: first, last: i }); first = null; }
    });
    var pending = runs.reduce(function (sum, r) {
      for (var i = r.first; i <= r.last; i++) sum += row.members[i].size;
      return sum;
    }, 0);
    var accepted = runs.map(function () { return 0; });
    var base = row.size - pending;
    row.sent = base;
    function progress() {
      row.sent = base + accepted.reduce(function (a, b) { return a + b; }, 0);
      render(row);
    }
    return runs.map(function (run, k) {
      return function () {
        row.status = 'uploading';
        var files = row.members.slice(run.first, run.last + 1);
        // A Blob of the files refers to them; nothing is read until it is sent.
        var blob = new Blob(files.map(function (m) { return m.file; }));
        var where = run.url
          ? { uploadUrl: new URL(run.url, location.href).href, uploadSize: blob.size }
          : {
            endpoint: '/api/v1/uploads',
            uploadDataDuringCreation: true,
            metadata: {
              project: String(config.project), bucket: config.bucket,
              package: String(declaredFile.asset_id), members: run.first + '-' + run.last,
            },
          };
        return send(blob, where, function (n) { accepted[k] = n; progress(); }).then(function () {
          accepted[k] = blob.size;
          files.forEach(function (m) { m.done = true; });
          if (row.members.every(function (m) { return m.done || (row.open && !row.open[m.path]); })) row.status = 'uploaded';
          progress();
        });
      };
    });
  }
  // A big file goes as pieces: parallel uploads that each carry one range of it, which the hub
  // writes in place into the file, so nothing is copied when they are done (the last one makes
  // the file whole). Ranges are whole multiples of the hub's piece size but the last
  // (api_types::tus::piece_size: 8 MiB, more for files over 70 GiB); asked again for the same
  // range, the hub gives the same piece, so a continued delivery continues its pieces.
  var SPLIT_AT = 256 * 1024 * 1024;
  var MIN_PIECE = 64 * 1024 * 1024;
  function pieceRanges(size) {
    var MiB = 1024 * 1024;
    var unit = Math.ceil(Math.max(8 * MiB, Math.ceil(size / 9000)) / MiB) * MiB;
    var units = Math.max(1, Math.ceil(size / unit));
    var count = Math.min(units, Math.max(1, Math.min(STREAMS, Math.floor(size / MIN_PIECE))));
    var per = Math.ceil(units / count) * unit;
    var out = [];
    for (var at = 0; at < size; at += per) out.push({ at: at, len: Math.min(per, size - at) });
    return out;
  }
  function tusMetadata(pairs) {
    return Object.keys(pairs).map(function (k) {
      return k + ' ' + btoa(String.fromCharCode.apply(null, new TextEncoder().encode(pairs[k])));
    }).join(',');
  }
  async function createPiece(whole, at, len) {
    var response = await fetch('/api/v1/uploads', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Tus-Resumable': '1.0.0', 'X-CSRF-Token': hub.csrf, 'Upload-Length': String(len),
        'Upload-Metadata': tusMetadata({ project: String(config.project), bucket: config.bucket, whole: whole, at: String(at) }),
      },
    });
    if (!response.ok) {
      var body = await response.json().catch(function () { return {}; });
      throw new Error(body.message || ('the hub refused a piece (' + response.status + ')'));
    }
    return new URL(response.headers.get('Location'), location.href).href;
  }
  async function wholeOffset(declaredFile) {
    var head = await fetch(new URL(declaredFile.upload, location.href).href, {
      method: 'HEAD', credentials: 'same-origin', headers: { 'Tus-Resumable': '1.0.0' },
    });
    return head.ok ? Number(head.headers.get('Upload-Offset')) : -1;
  }
  function pieceJobs(row, declaredFile) {
    var whole = declaredFile.upload.split('/').pop();
    var ranges = pieceRanges(row.size);
    var accepted = ranges.map(function () { return 0; });
    var left = ranges.length;
    function progress() {
      row.sent = accepted.reduce(function (a, b) { return a + b; }, 0);
      render(row);
    }
    return ranges.map(function (r, k) {
      return async function () {
        row.status = 'uploading';
        var url = await createPiece(whole, r.at, r.len);
        await send(row.file.slice(r.at, r.at + r.len), { uploadUrl: url, uploadSize: r.len }, function (n) {
          accepted[k] = n;
          progress();
        });
        accepted[k] = r.len;
        if (--left === 0) {
          // The last piece made the file whole (asking for its offset finishes it if that was cut short).
          if (await wholeOffset(declaredFile) !== row.size) throw new Error(row.name + ': the hub does not have the whole file after its pieces');
          row.status = 'uploaded';
        }
        progress();
      };
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
    rows.forEach(function (r) { delete r.error; r.bad = {}; });
    busy = true;
    render();
    var declared = current ? { ok: true, data: current } : await api('POST', '/projects/' + config.project + '/deliveries', declaration());
    if (!declared.ok) {
      busy = false;
      (declared.data.fields || []).forEach(function (f) {
        var at = /^files\[(\d+)\]\.?(.*)$/.exec(f.field);
        if (at && rows[Number(at[1])]) {
          var row = rows[Number(at[1])];
          var key = at[2].replace(/^metadata\./, '');
          row.error = (row.error ? row.error + '; ' : '') + (key ? key + ': ' : '') + f.message;
          row.bad = row.bad || {};
          row.bad[key === 'request_id' ? 'request' : key] = true;
        }
      });
      render();
      flush();
      problem((declared.data.message || 'the hub refused the delivery') + ' — nothing was uploaded.');
      return;
    }
    var continuing = !!current;
    var delivery = current = declared.data;
    if (config.resume || continuing) {
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
    // A big file the hub has been taking as one stream (not in pieces) goes on so.
    for (var b = 0; b < rows.length; b++) {
      if ((config.resume || continuing) && rows[b].kind === 'file' && rows[b].size >= SPLIT_AT && rows[b].status !== 'uploaded') {
        var file = delivery.files.find(function (f) { return f.name === rows[b].name; });
        rows[b].oneStream = (await wholeOffset(file)) > 0;
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
        if (row.size >= SPLIT_AT && !row.oneStream) {
          pieceJobs(row, declaredFile).forEach(function (job) { jobs.push(job); });
          return;
        }
        jobs.push(function () {
          row.status = 'uploading';
          render(row);
          return send(row.file, { uploadUrl: new URL(declaredFile.upload, location.href).href, uploadSize: row.size }, function (accepted) {
            row.sent = accepted;
            render(row);
          }).then(function () { row.status = 'uploaded'; render(row); });
        });
      } else {
        if (row.status === 'uploaded') return;
        streamJobs(row, declaredFile).forEach(function (job) { jobs.push(job); });
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
        metadata: {}, request: null, selected: false, total: f.size,
        sent: f.complete ? f.size : f.offset,
        status: f.complete ? 'uploaded' : 'choose it again to continue',
      });
    });
  }
  // Files dropped onto this bucket on another page (its card on the project page, its browse
  // page), which then opened this one in place.
  if (window.contenthubDropped) {
    var dropped = window.contenthubDropped;
    window.contenthubDropped = null;
    collectDropped(dropped);
  }
  render();
})();
