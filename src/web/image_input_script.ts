// What both translate pages (server-side translate and in-browser ONNX) share: the error line and the
// input/translation pair of their HTML, and the script wiring that hands an image chosen, dropped or pasted to the
// page's own translate(file). Interpolated into each page, whose script defines $(id) and translate(file) and whose
// HTML has #file (an <input type=file>) and #drop (the drop zone).

/** The error line and the input/translation figures (ids the page scripts fill in). */
export const IMAGE_PAIR_HTML = String.raw`  <div id="error" class="error" role="alert" hidden></div>
  <section class="pair">
    <figure class="card">
      <figcaption><span class="title">Input</span><span id="input-caption" class="muted"></span></figcaption>
      <div class="frame"><img id="input-img" alt="input image" hidden><span id="input-empty" class="placeholder">no image yet</span></div>
    </figure>
    <figure class="card">
      <figcaption><span class="title">Translation</span><span id="output-caption" class="muted"></span>
        <a id="download" download="translated.png" hidden>download</a></figcaption>
      <div class="frame"><img id="output-img" alt="translated image" hidden><span id="output-empty" class="placeholder">the result appears here</span>
        <div id="spinner" class="spinner" hidden></div></div>
    </figure>
  </section>
`;

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
