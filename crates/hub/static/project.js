// The project page's bucket filter, as you type (the form still works without script: the hub
// filters the same way).
(function () {
  'use strict';
  var input = document.getElementById('bucket-filter');
  var cards = document.querySelectorAll('#buckets .bucket');
  if (!input) return;
  input.addEventListener('input', function () {
    var wanted = input.value.trim().toLowerCase();
    var shown = 0;
    cards.forEach(function (card) {
      var match = card.dataset.title.toLowerCase().indexOf(wanted) >= 0 || card.dataset.slug.indexOf(wanted) >= 0;
      card.hidden = !match;
      if (match) shown++;
    });
    document.getElementById('bucket-count').textContent = shown === cards.length ? '' : shown + ' of ' + cards.length + ' buckets';
  });
})();
