// The browser side of both translate pages (server-side translate and in-browser ONNX): an image chosen, dropped
// or pasted is handed to the page's own translate(file). Interpolated into each page's script, which defines
// $(id) and translate(file) and has #file (an <input type=file>) and #drop (the drop zone).
export const IMAGE_INPUT_WIRING = String.raw`  $('file').addEventListener('change', function () {
    if (this.files && this.files[0]) translate(this.files[0]);
    this.value = '';
  });
  var drop = $('drop');
  ['dragenter', 'dragover'].forEach(function (t) {
    document.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'dragend'].forEach(function (t) {
    document.addEventListener(t, function (ev) { if (!ev.relatedTarget) drop.classList.remove('over'); });
  });
  document.addEventListener('drop', function (ev) {
    ev.preventDefault();
    drop.classList.remove('over');
    var f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) translate(f);
  });
  document.addEventListener('paste', function (ev) {
    var items = ev.clipboardData ? ev.clipboardData.files : null;
    if (items && items[0]) translate(items[0]);
  });
  drop.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('file').click(); } });
`;
