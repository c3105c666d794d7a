/**
 * The reference's HTML helper (util/html.py, reference.md §11): a page of headers and one-row image
 * tables, saved as <webDir>/index.html with images under <webDir>/images. The markup is rendered the
 * way the `dominate` library renders it (two-space indentation, attributes sorted by name, escaped text),
 * so pages written by the reference and by this project look the same.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from './atomic_write';

/** Escapes text and attribute values as dominate does (& < > ") */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A tag in the page tree. `single` tags (meta, img, br) have no closing tag. */
class Element {
  readonly children: (Element | string)[] = [];

  constructor(
    readonly tag: string,
    readonly attributes: Record<string, string> = {},
    readonly single = false,
  ) {}

  add<T extends Element | string>(child: T): T {
    this.children.push(child);
    return child;
  }

  /** dominate's pretty rendering: every child tag on its own line, text inline. */
  render(indentLevel = 0, out: string[] = []): string[] {
    out.push(`<${this.tag}`);
    for (const name of Object.keys(this.attributes).sort()) {
      out.push(` ${name}="${escapeHtml(this.attributes[name])}"`);
    }
    out.push('>');
    if (this.single) return out;
    let inline = true;
    for (const child of this.children) {
      if (typeof child === 'string') {
        out.push(escapeHtml(child));
      } else {
        inline = false;
        out.push('\n', '  '.repeat(indentLevel + 1));
        child.render(indentLevel + 1, out);
      }
    }
    if (!inline) out.push('\n', '  '.repeat(indentLevel));
    out.push(`</${this.tag}>`);
    return out;
  }
}

export class HTML {
  readonly webDir: string;
  readonly imageDir: string;
  private readonly head: Element;
  private readonly body: Element;
  private readonly root: Element;

  /** Creates webDir and webDir/images; refresh > 0 makes the browser reload the page every `refresh` seconds. */
  constructor(webDir: string, readonly title: string, refresh = 0) {
    this.webDir = webDir;
    this.imageDir = path.join(webDir, 'images');
    fs.mkdirSync(this.imageDir, { recursive: true });
    this.root = new Element('html');
    this.head = this.root.add(new Element('head'));
    this.body = this.root.add(new Element('body'));
    this.head.add(new Element('title')).add(title);
    if (refresh > 0) this.head.add(new Element('meta', { 'http-equiv': 'refresh', content: String(refresh) }, true));
  }

  getImageDir(): string {
    return this.imageDir;
  }

  /** A `<h3>` heading, e.g. `epoch [3]` or an image name. */
  addHeader(text: string): void {
    this.body.add(new Element('h3')).add(text);
  }

  /**
   * One table row of images: each cell links `images/<link>` around `images/<im>` at `width` px,
   * with `txt` below. The three lists are paired up to the shortest (Python's zip).
   */
  addImages(ims: readonly string[], txts: readonly string[], links: readonly string[], width = 400): void {
    const table = this.body.add(new Element('table', { border: '1', style: 'table-layout: fixed;' }));
    const row = table.add(new Element('tr'));
    const count = Math.min(ims.length, txts.length, links.length);
    for (let i = 0; i < count; i += 1) {
      const cell = row.add(new Element('td', { style: 'word-wrap: break-word;', halign: 'center', valign: 'top' }));
      const paragraph = cell.add(new Element('p'));
      const anchor = paragraph.add(new Element('a', { href: path.posix.join('images', links[i]) }));
      anchor.add(new Element('img', { style: `width:${width}px`, src: path.posix.join('images', ims[i]) }, true));
      paragraph.add(new Element('br', {}, true));
      paragraph.add(new Element('p')).add(txts[i]);
    }
  }

  /** The page as dominate's `doc.render()` returns it. */
  render(): string {
    return `<!DOCTYPE html>\n${this.root.render().join('')}`;
  }

  /** Writes <webDir>/index.html atomically (a reader never sees half a page) and returns its path. */
  save(): string {
    const file = path.join(this.webDir, 'index.html');
    writeFileAtomic(file, this.render());
    return file;
  }
}
