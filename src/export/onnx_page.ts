// The in-browser translate page (`img2img serve --onnx g.onnx`): onnxruntime-web (WASM, served by the same
// server, no CDN) runs the exported generator on a dropped, pasted or chosen image. The page follows the model's
// metadata contract (onnx_contract.ts) exactly as translate() does: ToTensor + Normalize in float32, reflect
// padding right/bottom to the size multiple, crop back, tensor2im. Nothing is uploaded.
import { IMAGE_INPUT_WIRING, IMAGE_PAIR_HTML } from '../web/image_input_script';
import type { Asset } from '../web/http_util';
import { TRANSLATE_CSS } from '../serve/translate_page';

export const ONNX_PAGE_CSS: Asset = TRANSLATE_CSS;

export const ONNX_PAGE_HTML: Asset = {
  type: 'text/html; charset=utf-8',
  body: String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>img2img translate (in the browser)</title>
<link rel="stylesheet" href="onnx.css">
<script src="ort/ort.wasm.min.js" defer></script>
<script src="onnx.js" defer></script>
</head>
<body data-state="loading">
<header class="top">
  <h1><span class="brand">img2img</span> translate <span class="meta">in the browser</span></h1>
  <span id="model" class="meta">loading the model…</span>
</header>
<main>
  <section id="drop" class="card drop" tabindex="0" aria-label="drop an image here">
    <div class="drop-inner">
      <strong>Drop an image here</strong>, paste one, or
      <label class="button">choose a file<input id="file" type="file" accept="image/*"></label>
      <div class="muted small">Runs on this machine with ONNX Runtime Web (WASM); the image is not uploaded. The output has the input's size.</div>
    </div>
  </section>
${IMAGE_PAIR_HTML}</main>
</body>
</html>
`,
};

export const ONNX_PAGE_JS: Asset = {
  type: 'text/javascript; charset=utf-8',
  body: String.raw`'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var f32 = Math.fround;
  var model = { session: null, contract: null };
  var current = 0;
  var urls = { input: null, output: null };
  /** The last translation as a canvas (read by the browser test). */
  window.img2imgOutput = null;

  function setState(s) { document.body.setAttribute('data-state', s); }
  function showError(message) {
    var box = $('error');
    box.textContent = '';
    var strong = document.createElement('strong');
    strong.textContent = 'Error:';
    box.appendChild(strong);
    box.appendChild(document.createTextNode(message));
    box.hidden = false;
    setState('error');
  }
  function setImage(which, blob) {
    var img = $(which + '-img');
    if (urls[which]) URL.revokeObjectURL(urls[which]);
    urls[which] = blob ? URL.createObjectURL(blob) : null;
    if (blob) img.src = urls[which]; else img.removeAttribute('src');
    img.hidden = !blob;
    $(which + '-empty').hidden = !!blob;
  }

  // ToTensor + Normalize(0.5, 0.5) in float32, indexed by the uint8 sample (the contract's input rule).
  var NORMALIZED = new Float32Array(256);
  for (var v = 0; v < 256; v++) NORMALIZED[v] = f32(f32(f32(v / 255) - 0.5) / 0.5);
  function reflectIndex(i, n) {
    if (n === 1) return 0;
    var period = 2 * (n - 1), k = ((i % period) + period) % period;
    return k >= n ? period - k : k;
  }
  function paddedSize(h, w) {
    var c = model.contract;
    if (c.fixedSize) {
      if (h > c.fixedSize[0] || w > c.fixedSize[1]) {
        throw new Error('Expected an image of at most ' + c.fixedSize[0] + 'x' + c.fixedSize[1] + ' for this model (exported with a fixed --size) but received ' + h + 'x' + w);
      }
      return c.fixedSize;
    }
    var m = c.sizeMultiple;
    return [Math.ceil(h / m) * m, Math.ceil(w / m) * m];
  }
  /** RGBA pixels -> NCHW float32, reflect-padded right and bottom to (h2, w2). */
  function toInput(rgba, h, w, h2, w2, channels) {
    var out = new Float32Array(channels * h2 * w2);
    for (var y = 0; y < h2; y++) {
      var sy = reflectIndex(y, h);
      for (var x = 0; x < w2; x++) {
        var s = (sy * w + reflectIndex(x, w)) * 4, d = y * w2 + x;
        if (channels === 1) { // ITU-R 601-2 luma in fixed point, as PIL's convert('L')
          out[d] = NORMALIZED[(rgba[s] * 19595 + rgba[s + 1] * 38470 + rgba[s + 2] * 7471 + 0x8000) >> 16];
        } else {
          for (var ch = 0; ch < 3; ch++) out[ch * h2 * w2 + d] = NORMALIZED[rgba[s + ch]];
        }
      }
    }
    return out;
  }
  /** NCHW float32 in [-1, 1] -> RGBA, cropped to (h, w) (tensor2im; one channel is shown as gray). */
  function toPixels(y, oc, h2, w2, h, w) {
    var img = new ImageData(w, h);
    for (var yy = 0; yy < h; yy++) for (var x = 0; x < w; x++) {
      var d = (yy * w + x) * 4;
      for (var ch = 0; ch < 3; ch++) {
        var t = f32(f32(f32(y[(oc === 1 ? 0 : ch) * h2 * w2 + yy * w2 + x] + 1) / 2) * 255);
        img.data[d + ch] = t >= 255 ? 255 : t > 0 ? Math.trunc(t) : 0;
      }
      img.data[d + 3] = 255;
    }
    return img;
  }

  function translate(file) {
    if (!model.session) return;
    var token = ++current;
    $('error').hidden = true;
    setState('busy');
    setImage('input', file);
    setImage('output', null);
    $('output-empty').hidden = true;
    $('download').hidden = true;
    $('spinner').hidden = false;
    $('output-caption').textContent = 'translating…';
    var t0 = 0, h = 0, w = 0;
    createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' }).then(function (bmp) {
      h = bmp.height; w = bmp.width;
      $('input-caption').textContent = file.name + ' · ' + w + '×' + h;
      var canvas = document.createElement('canvas');
      canvas.width = w; canvas.height = h;
      var g = canvas.getContext('2d', { willReadFrequently: true });
      g.drawImage(bmp, 0, 0);
      var rgba = g.getImageData(0, 0, w, h).data;
      var size = paddedSize(h, w), c = model.contract;
      t0 = performance.now();
      var x = toInput(rgba, h, w, size[0], size[1], c.inputChannels);
      var feeds = { input: new ort.Tensor('float32', x, [1, c.inputChannels, size[0], size[1]]) };
      return model.session.run(feeds).then(function (r) {
        return toPixels(r.output.data, c.outputChannels, size[0], size[1], h, w);
      });
    }).then(function (pixels) {
      if (token !== current) return;
      var ms = Math.round(performance.now() - t0);
      var out = document.createElement('canvas');
      out.width = w; out.height = h;
      out.getContext('2d').putImageData(pixels, 0, 0);
      window.img2imgOutput = out;
      out.toBlob(function (blob) {
        if (token !== current) return;
        $('output-img').onload = function () { if (token === current) setState('done'); };
        setImage('output', blob);
        $('output-caption').textContent = w + '×' + h + ' · ' + ms + ' ms in the browser';
        var a = $('download');
        a.href = urls.output;
        a.download = file.name.replace(/\.[^.]*$/, '') + '_translated.png';
        a.hidden = false;
        $('spinner').hidden = true;
      }, 'image/png');
    }).catch(function (e) {
      if (token !== current) return;
      $('spinner').hidden = true;
      $('output-caption').textContent = '';
      $('output-empty').hidden = false;
      showError(e && e.message ? e.message : String(e));
    });
  }

  fetch('model.json').then(function (r) { return r.json(); }).then(function (c) {
    model.contract = c;
    var d = c.description;
    var run = c.context && c.context.direction ? ' (' + (c.context.model || '') + ' ' + c.context.direction + ')' : '';
    $('model').textContent = c.file + run + ' · ' + d.arch + ', ngf ' + d.width + ', ' + d.norm + ' norm · ' + c.inputChannels + '→' +
      c.outputChannels + ' channels · ' + (c.fixedSize ? c.fixedSize.join('×') : 'sizes padded to multiples of ' + c.sizeMultiple) + ' · loading ONNX Runtime…';
    ort.env.wasm.wasmPaths = new URL('ort/', location.href).href; // the server's copy of onnxruntime-web/dist
    ort.env.wasm.numThreads = 1; // threads need cross-origin isolation; one thread works everywhere
    return ort.InferenceSession.create('model.onnx', { executionProviders: ['wasm'] });
  }).then(function (session) {
    model.session = session;
    $('model').textContent = $('model').textContent.replace(' · loading ONNX Runtime…', ' · ready (WASM)');
    setState('idle');
  }).catch(function (e) { showError('could not load the model: ' + (e && e.message ? e.message : String(e))); });

${IMAGE_INPUT_WIRING}})();
`,
};
