// The translate page: pick, drop or paste an image; it is POSTed as it is and the translation is shown next to
// it. Errors from the server ({"error": message}) are shown in the page with their status.
import { IMAGE_INPUT_WIRING, IMAGE_PAIR_HTML } from '../web/image_input_script';
import type { Asset } from '../web/http_util';
import { BASE_CSS } from '../web/page_style';

export const TRANSLATE_HTML: Asset = {
  type: 'text/html; charset=utf-8',
  body: String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>img2img translate</title>
<link rel="stylesheet" href="translate.css">
<script src="translate.js" defer></script>
</head>
<body data-state="idle">
<header class="top">
  <h1><span class="brand">img2img</span> translate</h1>
  <span id="model" class="meta">loading the model description…</span>
</header>
<main>
  <section id="drop" class="card drop" tabindex="0" aria-label="drop an image here">
    <div class="drop-inner">
      <strong>Drop an image here</strong>, paste one, or
      <label class="button">choose a file<input id="file" type="file" accept="image/*,.ppm,.pgm,.pbm,.tif,.tiff"></label>
      <div class="muted small">PNG, JPEG, BMP, GIF, TIFF or PPM, up to <span id="limit">–</span>. The output has the input's size.</div>
    </div>
  </section>
${IMAGE_PAIR_HTML}</main>
</body>
</html>
`,
};

export const TRANSLATE_CSS: Asset = {
  type: 'text/css; charset=utf-8',
  body: BASE_CSS + String.raw`
main { max-width: 1100px; display: flex; flex-direction: column; gap: 14px; }
.small { font-size: 12.5px; margin-top: 6px; }
.drop { border: 2px dashed var(--border); text-align: center; padding: 26px 16px; transition: border-color .15s, background .15s; outline: none; }
.drop.over, .drop:focus-visible { border-color: var(--accent); background: color-mix(in srgb, var(--accent) 8%, var(--card)); }
.button { display: inline-block; margin-left: 4px; padding: 4px 12px; border-radius: 6px; background: var(--accent); color: #fff;
  cursor: pointer; font-weight: 600; }
.button input { display: none; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 14px; }
.pair figure { margin: 0; }
.pair figcaption { display: flex; gap: 10px; align-items: baseline; margin-bottom: 8px; flex-wrap: wrap; }
.pair figcaption .title { font-weight: 600; }
.pair figcaption a { margin-left: auto; color: var(--accent); }
.frame { position: relative; min-height: 220px; display: flex; align-items: center; justify-content: center;
  background: var(--track); border-radius: 6px; overflow: hidden; }
.frame img { display: block; max-width: 100%; height: auto; image-rendering: auto; }
.placeholder { color: var(--muted); font-size: 13px; }
.spinner { position: absolute; width: 34px; height: 34px; border-radius: 50%; border: 3px solid var(--border);
  border-top-color: var(--accent); animation: spin .8s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
.error strong { margin-right: 6px; }
`,
};

export const TRANSLATE_JS: Asset = {
  type: 'text/javascript; charset=utf-8',
  body: String.raw`'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var TITLES = { 400: 'Not an image the server can read', 408: 'Upload too slow', 413: 'Upload too large', 503: 'Server busy', 500: 'Translation failed' };
  var current = 0;
  var urls = { input: null, output: null };

  function fmtBytes(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + ' MB';
    if (n >= 1e3) return (n / 1e3).toFixed(1).replace(/\.0$/, '') + ' KB';
    return n + ' bytes';
  }
  function setState(s) { document.body.setAttribute('data-state', s); }
  function showError(status, message) {
    var box = $('error');
    box.textContent = '';
    var strong = document.createElement('strong');
    strong.textContent = (status ? (TITLES[status] || 'Error') + ' (HTTP ' + status + ')' : 'Error') + ':';
    box.appendChild(strong);
    box.appendChild(document.createTextNode(message));
    box.setAttribute('data-status', String(status || 0));
    box.hidden = false;
    setState('error');
  }
  function clearError() { $('error').hidden = true; $('error').textContent = ''; }
  function setImage(which, blob) {
    var img = $(which + '-img');
    if (urls[which]) URL.revokeObjectURL(urls[which]);
    urls[which] = blob ? URL.createObjectURL(blob) : null;
    if (blob) img.src = urls[which]; else img.removeAttribute('src');
    img.hidden = !blob;
    $(which + '-empty').hidden = !!blob;
  }

  fetch('api/info').then(function (r) { return r.json(); }).then(function (i) {
    $('model').textContent = i.checkpoint + '  ·  ' + i.arch + ', ngf ' + i.ngf + ', ' + i.norm + ' norm  ·  ' +
      i.inputChannels + '→' + i.outputChannels + ' channels  ·  ' + i.device + ', ' + i.mode + ' mode';
    $('limit').textContent = i.maxUpload;
  }).catch(function () { $('model').textContent = 'model description unavailable'; });

  function translate(file) {
    var token = ++current;
    clearError();
    setState('busy');
    setImage('input', file);
    $('input-caption').textContent = file.name + ' · ' + fmtBytes(file.size);
    $('input-img').onload = function () {
      if (token === current) $('input-caption').textContent = file.name + ' · ' + this.naturalWidth + '×' + this.naturalHeight + ' · ' + fmtBytes(file.size);
    };
    $('input-img').onerror = function () {
      if (token !== current) return;
      this.hidden = true;
      $('input-empty').hidden = false;
      $('input-empty').textContent = 'this browser cannot preview ' + file.name;
    };
    setImage('output', null);
    $('output-empty').hidden = true;
    $('output-caption').textContent = 'translating…';
    $('download').hidden = true;
    $('spinner').hidden = false;
    fetch('translate', {
      method: 'POST', body: file,
      headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-File-Name': encodeURIComponent(file.name) },
    }).then(function (res) {
      if (!res.ok) {
        return res.text().then(function (text) {
          var message = res.statusText;
          try { message = JSON.parse(text).error || message; } catch (e) { if (text) message = text; }
          throw { status: res.status, message: message };
        });
      }
      var ms = res.headers.get('X-Elapsed-Ms'), notes = decodeURIComponent(res.headers.get('X-Notes') || '');
      return res.blob().then(function (blob) { return { blob: blob, ms: ms, notes: notes }; });
    }).then(function (r) {
      if (token !== current) return;
      var img = $('output-img');
      img.onload = function () {
        if (token !== current) return;
        $('output-caption').textContent = this.naturalWidth + '×' + this.naturalHeight + (r.ms ? ' · ' + r.ms + ' ms' : '') + (r.notes ? ' · ' + r.notes : '');
        setState('done');
      };
      setImage('output', r.blob);
      var a = $('download');
      a.href = urls.output;
      a.download = file.name.replace(/\.[^.]*$/, '') + '_translated.png';
      a.hidden = false;
    }).catch(function (e) {
      if (token !== current) return;
      $('output-caption').textContent = '';
      $('output-empty').hidden = false;
      if (e && e.status) showError(e.status, e.message);
      else showError(0, 'could not reach the server (' + (e && e.message ? e.message : String(e)) + ')');
    }).then(function () { if (token === current) $('spinner').hidden = true; });
  }

${IMAGE_INPUT_WIRING}})();
`,
};
