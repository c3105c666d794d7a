/** The HTML page helper renders like the reference's util/html.py + dominate (reference.md §9–§11). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HTML } from '../../../src/util/html';

describe('util/html', () => {
  let folder: string;
  beforeEach(() => { folder = fs.mkdtempSync(path.join(os.tmpdir(), 'img2img-html-')); });
  afterEach(() => fs.rmSync(folder, { recursive: true, force: true }));

  it('creates webDir/images and renders a training page as dominate does', () => {
    const webDir = path.join(folder, 'web');
    const page = new HTML(webDir, 'Experiment name = facades', 1);
    assert.ok(fs.statSync(path.join(webDir, 'images')).isDirectory());
    assert.strictEqual(page.getImageDir(), path.join(webDir, 'images'));
    page.addHeader('epoch [2]');
    page.addImages(['epoch002_real_A.png', 'epoch002_fake_B.png'], ['real_A', 'fake_B'], ['epoch002_real_A.png', 'epoch002_fake_B.png'], 256);
    const file = page.save();
    assert.strictEqual(file, path.join(webDir, 'index.html'));
    const expected = [
      '<!DOCTYPE html>',
      '<html>',
      '  <head>',
      '    <title>Experiment name = facades</title>',
      '    <meta content="1" http-equiv="refresh">',
      '  </head>',
      '  <body>',
      '    <h3>epoch [2]</h3>',
      '    <table border="1" style="table-layout: fixed;">',
      '      <tr>',
      '        <td halign="center" style="word-wrap: break-word;" valign="top">',
      '          <p>',
      '            <a href="images/epoch002_real_A.png">',
      '              <img src="images/epoch002_real_A.png" style="width:256px">',
      '            </a>',
      '            <br>',
      '            <p>real_A</p>',
      '          </p>',
      '        </td>',
      '        <td halign="center" style="word-wrap: break-word;" valign="top">',
      '          <p>',
      '            <a href="images/epoch002_fake_B.png">',
      '              <img src="images/epoch002_fake_B.png" style="width:256px">',
      '            </a>',
      '            <br>',
      '            <p>fake_B</p>',
      '          </p>',
      '        </td>',
      '      </tr>',
      '    </table>',
      '  </body>',
      '</html>',
    ].join('\n');
    assert.strictEqual(fs.readFileSync(file, 'utf8'), expected);
  });

  it('has no refresh by default, an empty body renders inline, and text is escaped', () => {
    const page = new HTML(folder, 'A & <B> "q"');
    assert.strictEqual(page.render(), '<!DOCTYPE html>\n<html>\n  <head>\n    <title>A &amp; &lt;B&gt; &quot;q&quot;</title>\n  </head>\n  <body></body>\n</html>');
    page.addHeader('x<y');
    assert.match(page.render(), /<h3>x&lt;y<\/h3>/);
  });

  it('uses width 400 by default and pairs lists like zip()', () => {
    const page = new HTML(folder, 't');
    page.addImages(['a.png', 'b.png'], ['a'], ['a.png', 'b.png']);
    const html = page.render();
    assert.strictEqual((html.match(/<td /g) ?? []).length, 1);
    assert.match(html, /<img src="images\/a.png" style="width:400px">/);
  });

  it('save() leaves no temporary files behind and overwrites the page', () => {
    const page = new HTML(folder, 't');
    page.save();
    page.addHeader('again');
    page.save();
    assert.deepStrictEqual(fs.readdirSync(folder).sort(), ['images', 'index.html']);
    assert.match(fs.readFileSync(path.join(folder, 'index.html'), 'utf8'), /<h3>again<\/h3>/);
  });
});
