/**
 * A small strict XML parser for the SVG tests: one root, properly nested and closed tags, quoted
 * attributes without duplicates, only the five predefined entities (and numeric ones) in text and
 * attribute values. Throws on anything else, so "parses" means "well-formed" for our documents.
 */

/** One element. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function decode(raw: string, where: number): string {
  const stripped = raw.replace(ENTITY, '');
  if (stripped.includes('&')) throw new Error(`bad entity near offset ${where}`);
  if (stripped.includes('<')) throw new Error(`raw "<" near offset ${where}`);
  return raw.replace(ENTITY, (e) => ({ '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'" })[e] ?? '?');
}

function parseAttrs(src: string, where: number): Record<string, string> {
  const attrs: Record<string, string> = {};
  let rest = src.trim();
  while (rest.length > 0) {
    const m = /^([A-Za-z_][\w.:-]*)\s*=\s*"([^"]*)"\s*/.exec(rest);
    if (!m) throw new Error(`bad attribute syntax near offset ${where}: ${rest.slice(0, 40)}`);
    if (m[1]! in attrs) throw new Error(`duplicate attribute ${m[1]} near offset ${where}`);
    attrs[m[1]!] = decode(m[2]!, where);
    rest = rest.slice(m[0].length);
  }
  return attrs;
}

/** Parses `doc`; returns the root element. */
export function parseXml(doc: string): XmlElement {
  let i = 0;
  if (doc.startsWith('<?xml')) i = doc.indexOf('?>') + 2;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (i < doc.length) {
    const lt = doc.indexOf('<', i);
    const text = doc.slice(i, lt < 0 ? doc.length : lt);
    if (stack.length > 0) stack[stack.length - 1]!.text += decode(text, i);
    else if (text.trim() !== '') throw new Error(`text outside the root at offset ${i}`);
    if (lt < 0) break;
    const gt = doc.indexOf('>', lt);
    if (gt < 0) throw new Error(`unterminated tag at offset ${lt}`);
    const tag = doc.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (!open || open.name !== tag.slice(1).trim()) throw new Error(`mismatched </${tag.slice(1)}> at offset ${lt}`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const name = NAME.exec(body)?.[0];
      if (!name) throw new Error(`bad tag name at offset ${lt}`);
      const el: XmlElement = { name, attrs: parseAttrs(body.slice(name.length), lt), children: [], text: '' };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
      else if (root === null) root = el;
      else throw new Error(`second root element at offset ${lt}`);
      if (!selfClosing) stack.push(el);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root === null) throw new Error('no root element');
  return root;
}

/** Every descendant of `el` (depth first) that satisfies `pred`. */
export function findAll(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (pred(e)) out.push(e);
    e.children.forEach(walk);
  };
  el.children.forEach(walk);
  return out;
}
