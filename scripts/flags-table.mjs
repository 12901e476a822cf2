// Prints the README's flag tables from the option specs (options are data).
// Usage: npm run build && node scripts/flags-table.mjs
import { allOptions } from '../dist/config.js';
import { publishOptions } from '../dist/publish/options.js';

const groups = new Map();
for (const o of [...allOptions(), ...publishOptions]) {
  const g = o.group ?? 'Sources';
  if (!groups.has(g)) groups.set(g, []);
  groups.get(g).push(o);
}
for (const [g, opts] of groups) {
  console.log(`\n### ${g}\n\n| flag | default | meaning |\n|---|---|---|`);
  for (const o of opts) {
    const names = [`--${o.name}`, ...(o.aliases ?? []).map((a) => `--${a}`)];
    const underscore = `--${o.name.replace(/-/g, '_')}`;
    if (o.name.includes('-') && !names.includes(underscore)) names.splice(1, 0, underscore);
    const flag = names.map((n) => `\`${n}${o.kind === 'bool' ? '' : ` ${o.metavar ?? (o.choices ? o.choices.join('\\|') : 'VALUE')}`}\``).join(', ');
    const def = o.default === undefined ? '' : `\`${String(o.default)}\``;
    console.log(`| ${flag} | ${def} | ${o.help.replace(/\|/g, '\\|')}${o.secret ? ' (secret: masked, never logged)' : ''} |`);
  }
}
