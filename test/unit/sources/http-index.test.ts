import { describe, expect, it } from 'vitest';
import { UnsafePathError } from '../../../src/errors.js';
import { childOf, decodeEntities, extractHrefs, parseIndex } from '../../../src/sources/http-index.js';

const DIR = new URL('http://models.example:8080/models/m1/');
const LONG = 'embedding_table_shard_embedding_table_shard_embedding_table_shard_00017-of-00032.bin';

/** nginx 1.22.1 `autoindex on;` (captured; the long name's text is truncated to `emb..&gt;`). */
const NGINX = `<html>
<head><title>Index of /models/m1/</title></head>
<body>
<h1>Index of /models/m1/</h1><hr><pre><a href="../">../</a>
<a href="sub/">sub/</a>                                               24-Nov-2026 10:21                   -
<a href="a%20b.bin">a b.bin</a>                                            24-Nov-2026 10:21                   4
<a href="ckpt%3Astep%3D100.txt">ckpt:step=100.txt</a>                                  24-Nov-2026 10:21                   2
<a href="${LONG}">embedding_table_shard_embedding_table_shard_emb..&gt;</a> 24-Nov-2026 10:21                   2
<a href="mod%C3%A8le-%E6%A8%A1%E5%9E%8B.bin">modèle-模型.bin</a>                                 24-Nov-2026 10:21                   2
<a href="params">params</a>                                             24-Nov-2026 10:21             1234567
<a href="r%26d%20%231.txt">r&amp;d #1.txt</a>                                         24-Nov-2026 10:21                   2
</pre><hr></body>
</html>
`;

/** nginx with `autoindex_exact_size off;`: the size column is rounded, never to be trusted. */
const NGINX_ROUNDED = `<html><head><title>Index of /models/m1/</title></head><body>
<h1>Index of /models/m1/</h1><hr><pre><a href="../">../</a>
<a href="params">params</a>                                             24-Nov-2026 10:21                1206K
</pre><hr></body></html>`;

/** python3 -m http.server (3.11, captured). */
const PYTHON = `<!DOCTYPE HTML>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Directory listing for /models/m1/</title>
</head>
<body>
<h1>Directory listing for /models/m1/</h1>
<hr>
<ul>
<li><a href="a%20b.bin">a b.bin</a></li>
<li><a href="ckpt%3Astep%3D100.txt">ckpt:step=100.txt</a></li>
<li><a href="${LONG}">${LONG}</a></li>
<li><a href="mod%C3%A8le-%E6%A8%A1%E5%9E%8B.bin">modèle-模型.bin</a></li>
<li><a href="params">params</a></li>
<li><a href="r%26d%20%231.txt">r&amp;d #1.txt</a></li>
<li><a href="sub/">sub/</a></li>
</ul>
<hr>
</body>
</html>
`;

/** Apache 2.4 mod_autoindex, FancyIndexing + HTMLTable: sort links, absolute parent, `./` before a colon name, `&amp;`. */
const APACHE_TABLE = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /models/m1</title>
 </head>
 <body>
<h1>Index of /models/m1</h1>
  <table>
   <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
   <tr><th colspan="5"><hr></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/models/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="a%20b.bin">a b.bin</a></td><td align="right">2026-11-24 10:21  </td><td align="right">  4 </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="./ckpt:step=100.txt">ckpt:step=100.txt</a></td><td align="right">2026-11-24 10:21  </td><td align="right">  2 </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="${LONG}">embedding_table_shard_embedding_table_shard..&gt;</a></td><td align="right">2026-11-24 10:21  </td><td align="right">  2 </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="mod%c3%a8le-%e6%a8%a1%e5%9e%8b.bin">modèle-模型.bin</a></td><td align="right">2026-11-24 10:21  </td><td align="right">  2 </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="params">params</a></td><td align="right">2026-11-24 10:21  </td><td align="right">1.2M</td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="r&amp;d%20%231.txt">r&amp;d #1.txt</a></td><td align="right">2026-11-24 10:21  </td><td align="right">  2 </td><td>&nbsp;</td></tr>
<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="sub/">sub/</a></td><td align="right">2026-11-24 10:21  </td><td align="right">  - </td><td>&nbsp;</td></tr>
   <tr><th colspan="5"><hr></th></tr>
</table>
<address>Apache/2.4.62 (Debian) Server at models.example Port 8080</address>
</body></html>
`;

/** Apache 2.4 without FancyIndexing: a plain list, parent first. */
const APACHE_PLAIN = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html>
 <head>
  <title>Index of /models/m1</title>
 </head>
 <body>
<h1>Index of /models/m1</h1>
<ul><li><a href="/models/"> Parent Directory</a></li>
<li><a href="a%20b.bin"> a b.bin</a></li>
<li><a href="params"> params</a></li>
<li><a href="sub/"> sub/</a></li>
</ul>
</body></html>
`;

const FULL = [
  { name: 'sub', isDirectory: true },
  { name: 'a b.bin', isDirectory: false },
  { name: 'ckpt:step=100.txt', isDirectory: false },
  { name: LONG, isDirectory: false },
  { name: 'modèle-模型.bin', isDirectory: false },
  { name: 'params', isDirectory: false },
  { name: 'r&d #1.txt', isDirectory: false },
];
const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);

describe('parseIndex: real autoindex pages', () => {
  it.each([
    ['nginx', NGINX],
    ['python http.server', PYTHON],
    ['Apache (fancy table)', APACHE_TABLE],
  ])('%s: every child, full names from the href, parent and sort links dropped', (_name, html) => {
    expect(parseIndex(html, DIR).sort(byName)).toEqual([...FULL].sort(byName));
  });

  it('Apache plain list', () => {
    expect(parseIndex(APACHE_PLAIN, DIR)).toEqual([
      { name: 'a b.bin', isDirectory: false },
      { name: 'params', isDirectory: false },
      { name: 'sub', isDirectory: true },
    ]);
  });

  it('nginx with rounded sizes still yields the name (sizes come from HEAD)', () => {
    expect(parseIndex(NGINX_ROUNDED, DIR)).toEqual([{ name: 'params', isDirectory: false }]);
  });

  it('the directory URL must end with /', () => {
    expect(() => parseIndex(NGINX, new URL('http://h/models/m1'))).toThrow(TypeError);
  });
});

describe('parseIndex: links that must not be followed', () => {
  const hostile = [
    '../',
    '../../etc/passwd',
    '%2e%2e/%2e%2e/etc/passwd',
    '/etc/passwd',
    '/models/m1', // the directory itself, without its slash
    '/models/m2/x.bin',
    'http://evil.example/models/m1/x.bin',
    '//evil.example/models/m1/x.bin',
    'https://models.example:8080/models/m1/x.bin', // another origin (scheme)
    'javascript:alert(1)',
    'mailto:ops@example.com',
    '?C=M;O=A',
    '#top',
    'x.bin?download=1',
    './',
    '.',
    'sub/deeper/x.bin',
    '',
  ];
  it.each(hostile)('%j is dropped', (href) => {
    expect(childOf(href, DIR)).toBeNull();
  });

  it.each(['a%2Fb', 'a%5Cb', 'nul%00.bin'])('%j decodes to an unsafe name and is refused', (href) => {
    expect(() => childOf(href, DIR)).toThrow(UnsafePathError);
  });

  it('a malformed %-escape is dropped, not guessed at', () => {
    expect(childOf('100%zz', DIR)).toBeNull();
  });

  it('absolute links under the directory count, whatever their %-encoding', () => {
    expect(childOf('/models/m1/abs.bin', DIR)).toEqual({ name: 'abs.bin', isDirectory: false });
    expect(childOf('http://models.example:8080/models/m1/d/', DIR)).toEqual({ name: 'd', isDirectory: true });
    const dir = new URL('http://h/models/ckpt%3Astep/');
    expect(childOf('/models/ckpt:step/w.bin', dir)).toEqual({ name: 'w.bin', isDirectory: false });
  });

  it('a page with the same link twice lists it once', () => {
    expect(parseIndex('<a href="x">x</a><a href="./x">icon</a><a href="x/">x/</a>', DIR)).toEqual([
      { name: 'x', isDirectory: false },
      { name: 'x', isDirectory: true },
    ]);
  });
});

describe('extractHrefs / decodeEntities', () => {
  it('reads double-, single- and un-quoted hrefs, any case, other attributes first', () => {
    const html = `<A HREF="a">a</A> <a class='x' href='b'>b</a> <a href=c>c</a> <a title="href=no" href="d">d</a> <area href="e">`;
    expect(extractHrefs(html)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('decodes character references', () => {
    expect(decodeEntities('r&amp;d &#39;q&#x27; &lt;&gt; &quot; &unknown; &#0;')).toBe(`r&d 'q' <> " &unknown; &#0;`);
  });
});
