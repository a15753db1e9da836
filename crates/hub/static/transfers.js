// The transfers page, live: every open delivery is asked for its offsets every two seconds, and
// each file shows whether it is queued, running (rate and time left, from what the hub
// acknowledged), stalled or done. The figures are the hub's, so an upload from another browser or
// the command line shows here too. When a file or a delivery changes state, the page reloads to
// show its log.
(function () {
  'use strict';
  var POLL_MS = 2000;
  // Rates are measured over the last few seconds; a file silent for longer is stalled.
  var WINDOW_MS = 10000;
  var STALLED_MS = 30000;
  var open = Array.prototype.slice.call(document.querySelectorAll('section.transfer[data-open="true"]'));
  if (!open.length) return;
  // Per delivery and file: samples of (time, offset), and when the offset last moved.
  var samples = {};

  function sample(key, offset, now) {
    var s = samples[key] = samples[key] || { points: [], moved: now, last: offset };
    if (offset !== s.last) { s.moved = now; s.last = offset; }
    s.points.push({ at: now, offset: offset });
    while (s.points.length > 2 && now - s.points[0].at > WINDOW_MS) s.points.shift();
    return s;
  }
  function rateOf(s) {
    var first = s.points[0], last = s.points[s.points.length - 1];
    return last.at > first.at ? (last.offset - first.offset) / ((last.at - first.at) / 1000) : 0;
  }
  // "running · 42 MiB/s · about 1 min 5 s left", "queued", "stalled …" — or nothing yet.
  function activity(s, size, complete, now) {
    if (complete) return 'done';
    if (s.points.length < 2) return '';
    var rate = rateOf(s);
    if (rate > 0) return 'running · ' + hub.human(rate) + '/s · ' + hub.timeLeft((size - s.last) / rate);
    if (s.last === 0) return 'queued';
    var quiet = Math.round((now - s.moved) / 1000);
    return quiet * 1000 >= STALLED_MS
      ? 'stalled: no bytes for ' + quiet + ' s — Resume continues from the hub\'s offset'
      : 'waiting for the next chunk';
  }

  async function poll(section) {
    var id = section.dataset.delivery;
    var answer = await hub.api('GET', '/deliveries/' + id);
    if (!answer.ok) return;
    var delivery = answer.data;
    var now = performance.now();
    var changed = delivery.state !== 'open';
    var received = 0, size = 0;
    delivery.files.forEach(function (f) {
      var row = section.querySelector('tr[data-asset="' + f.asset_id + '"]');
      if (!row) { changed = true; return; }
      if (row.dataset.state !== f.state) changed = true;
      var offset = f.complete ? f.size : f.offset;
      received += offset;
      size += f.size;
      var bar = row.querySelector('progress');
      bar.max = f.size || 1;
      bar.value = offset;
      row.querySelector('.amount').textContent = hub.human(offset) + ' of ' + hub.human(f.size);
      row.querySelector('.activity').textContent = activity(sample(id + '/' + f.asset_id, offset, now), f.size, f.complete, now);
    });
    var whole = sample(id, received, now);
    section.querySelector('.received').textContent = hub.human(received) + ' of ' + hub.human(size);
    var rate = rateOf(whole);
    section.querySelector('.pace').textContent =
      rate > 0 && received < size ? '· ' + hub.human(rate) + '/s · ' + hub.timeLeft((size - received) / rate) : '';
    return changed;
  }

  async function tick() {
    if (!document.hidden) {
      var results = await Promise.all(open.map(function (s) { return poll(s).catch(function () { return false; }); }));
      if (results.some(Boolean)) { location.reload(); return; }
    }
    setTimeout(tick, POLL_MS);
  }
  tick();
})();
