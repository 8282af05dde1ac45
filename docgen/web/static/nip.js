// The document form (op_formulir.html). A NIP typed as 18 digits is shown in its groups (the service accepts either).
document.querySelectorAll('input[data-nomor="nip"], input[data-nomor="ni_pppk"]').forEach(function (input) {
  input.addEventListener('blur', function () {
    var d = input.value.replace(/\s+/g, '');
    if (/^\d{18}$/.test(d)) input.value = d.slice(0, 8) + ' ' + d.slice(8, 14) + ' ' + d.slice(14, 15) + ' ' + d.slice(15);
  });
});
