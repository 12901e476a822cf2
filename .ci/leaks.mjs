#!/usr/bin/env node
// Fails when a test run left processes behind (a watcher polling a dead port,
// a server nobody stopped). Run after `npm test`:
//
//   MM_TEST_RUN=<id> npm test
//   node .ci/leaks.mjs --marker <id> --root "$PWD" [--wait SECONDS] [--json]
//
// A process is leaked when it is still alive and either carries
// MM_TEST_RUN=<id> in its environment (every child of the run inherits it,
// unless a test gave it a scrubbed env), or its command line names a file of
// this checkout (bin/model-monitor.js, dist/, test/): the run is over, so
// nothing of it should still be running. The script itself and its
// ancestors (.ci/run's shell) are not counted. Linux /proc only.
import { readdirSync, readFileSync } from 'node:fs';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
}

const marker = arg('marker');
const root = arg('root');
const waitS = Number(arg('wait', '10'));
const json = process.argv.includes('--json');
if (!marker && !root) {
  console.error('usage: leaks.mjs --marker ID and/or --root DIR [--wait SECONDS] [--json]');
  process.exit(2);
}

const read = (p) => {
  try {
    return readFileSync(p, 'latin1');
  } catch {
    return null;
  }
};

/** pid → ppid and state, from /proc/PID/stat (the command may hold spaces and parens: parse from the last ')'). */
function stat(pid) {
  const s = read(`/proc/${pid}/stat`);
  if (!s) return null;
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]) };
}

function ancestors() {
  const out = new Set();
  for (let pid = process.pid; pid > 1; ) {
    out.add(pid);
    const st = stat(pid);
    if (!st) break;
    pid = st.ppid;
  }
  return out;
}

function leaked() {
  const mine = ancestors();
  const paths = root ? ['bin/model-monitor.js', 'dist/', 'test/'].map((p) => `${root.replace(/\/+$/, '')}/${p}`) : [];
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (mine.has(pid)) continue;
    const st = stat(pid);
    if (!st || st.state === 'Z') continue; // gone, or a zombie its parent has not reaped (it holds nothing)
    const cmd = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
    const env = (read(`/proc/${pid}/environ`) ?? '').split('\0');
    const byMarker = marker !== undefined && env.includes(`MM_TEST_RUN=${marker}`);
    const byPath = paths.some((p) => cmd.includes(p));
    if (byMarker || byPath) out.push({ pid, ppid: st.ppid, cmd: cmd || `[pid ${pid}]`, why: byMarker ? 'MM_TEST_RUN' : 'command line' });
  }
  return out;
}

const deadline = Date.now() + waitS * 1000;
let found = leaked();
// A process killed in the last test's teardown may still be on its way out.
while (found.length > 0 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 200));
  found = leaked();
}
if (json) console.log(JSON.stringify(found));
else if (found.length > 0) {
  console.error(`leaks.mjs: ${found.length} process(es) outlived the test run (a test did not end what it started):`);
  for (const p of found) console.error(`  pid ${p.pid} (parent ${p.ppid}, by ${p.why}): ${p.cmd.slice(0, 300)}`);
} else console.error('leaks.mjs: no process outlived the test run');
process.exit(found.length > 0 ? 1 : 0);
