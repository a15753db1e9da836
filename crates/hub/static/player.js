// The proxy player: says clearly when the browser cannot play the file, and why.
(function () {
  var video = document.getElementById('player');
  var status = document.getElementById('player-status');
  if (!video || !status) return;
  video.addEventListener('error', function () {
    var code = video.error ? video.error.code : 0;
    var why = {
      2: 'the network failed while loading it',
      3: 'the browser could not decode it (is it H.264 video?)',
      4: 'this browser cannot play this format; a proxy must be H.264 in MP4 or MOV with fast start',
    }[code] || 'the browser refused it';
    status.textContent = 'This proxy cannot be played here: ' + why + '. You can still download it.';
  });
  video.addEventListener('canplay', function () { status.textContent = ''; });
})();
