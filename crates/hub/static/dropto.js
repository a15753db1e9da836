// Files dropped onto a bucket (its card on the project page, or anywhere on its browse page) open
// that bucket's delivery page in place, with them already listed: the drop's files live only in
// this page, so the delivery page is fetched and put in its stead (the address follows), and its
// script finds them waiting in `window.contenthubDropped`.
(function () {
  'use strict';
  function carriesFiles(e) {
    return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, 'Files') >= 0;
  }
  function load(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement('script');
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error('could not load ' + src)); };
      document.body.appendChild(script);
    });
  }
  async function open(url, dropped) {
    var answer = await fetch(url, { credentials: 'same-origin' });
    if (!answer.ok || answer.redirected) { location.href = url; return; }
    var page = new DOMParser().parseFromString(await answer.text(), 'text/html');
    document.title = page.title;
    document.querySelector('header.top nav').replaceWith(document.adoptNode(page.querySelector('header.top nav')));
    var main = document.adoptNode(page.getElementById('main'));
    document.getElementById('main').replaceWith(main);
    history.pushState({ dropped: true }, '', url);
    window.contenthubDropped = dropped;
    // Scripts moved from another document do not run: each is loaded anew, in order.
    var sources = Array.prototype.map.call(main.querySelectorAll('script[src]'), function (s) { return s.getAttribute('src'); });
    main.querySelectorAll('script[src]').forEach(function (s) { s.remove(); });
    for (var i = 0; i < sources.length; i++) {
      if (sources[i] === '/static/hub.js' && window.hub) continue;
      await load(sources[i]);
    }
    main.focus();
  }
  // Back from the delivery page opened in place: the page it came from, as it is now.
  window.addEventListener('popstate', function () { location.reload(); });
  var zones = document.querySelectorAll('[data-drop-to]');
  zones.forEach(function (zone) {
    zone.addEventListener('dragover', function (e) {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      e.stopPropagation();
      e.dataTransfer.dropEffect = 'copy';
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', function (e) {
      if (!zone.contains(e.relatedTarget)) zone.classList.remove('over');
    });
    zone.addEventListener('drop', function (e) {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      e.stopPropagation();
      zone.classList.remove('over');
      var url = zone.dataset.dropTo;
      // Should the page not come (the hub restarting, the network gone), go there the plain way:
      // the files are then chosen again on it.
      open(url, hub.dropped(e.dataTransfer.items)).catch(function () { location.href = url; });
    });
  });
  // A file dropped beside a bucket is not opened by the browser in this tab (leaving the page).
  if (zones.length) {
    ['dragover', 'drop'].forEach(function (type) {
      document.addEventListener(type, function (e) { if (carriesFiles(e)) e.preventDefault(); });
    });
  }
})();
