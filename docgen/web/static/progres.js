// A batch's page (op_batch_detail.html) while it runs. Live progress: the batch's counts and its bulk signings' every second; the whole page again
// once nothing runs any more.
(function (script) {
  var bar = document.getElementById('progres'), text = document.getElementById('progres-teks');
  var labels = JSON.parse(script.dataset.labels), batch = script.dataset.batch;
  function poll() {
    fetch('/api/v1/batches/' + encodeURIComponent(batch) + '?documents=false', {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) {
        if (!b) { setTimeout(poll, 2000); return; }
        var handled = b.done + b.failed, total = b.total || 1;
        bar.max = total; bar.value = handled;
        text.textContent = labels[b.status] + ': ' + b.done + ' selesai, ' + b.failed + ' gagal, dari ' + b.total + ' (' + Math.round(handled * 100 / total) + ' %)';
        var signing = false;
        b.signings.forEach(function (s, i) {
          var sbar = document.getElementById('ttd-' + (i + 1)), stext = document.getElementById('ttd-teks-' + (i + 1));
          if (s.status === 'berjalan') { signing = true; }
          if (sbar && stext) {
            sbar.max = s.total || 1; sbar.value = s.done + s.failed;
            stext.textContent = s.done + ' ditandatangani, ' + s.failed + ' gagal, dari ' + s.total;
          }
        });
        if (b.status === 'selesai' && !signing) { location.replace(location.pathname); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})(document.currentScript);
