/**
 * The cycle without spawning the CLI: decide() table-driven, then whole
 * cycles of a real monitor (rename swap, lock, record step) over the in-memory
 * Source: first pull, current, a new version, a model that changed mid-pull,
 * a --validate rejection, and the status file each leaves.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allOptions, buildConfig, resolveRaw, type MonitorConfig } from '../../src/config.js';
import { decide, warmsWire, type DecideInput, type Decision } from '../../src/cycle.js';
import { silentLogger } from '../../src/log.js';
import { createMonitor, type Monitor } from '../../src/monitor.js';
import { readStatus } from '../../src/state.js';
import { MemorySource } from '../helpers/memory-source.js';

const a = { version: 'v2', fingerprint: 'fp-2', remoteModel: 'm' };

describe('warmsWire: which pulls start the wire workers as they begin', () => {
  const download = async () => null;
  it('a source with download() on the wire path, no --bwlimit: yes', () => {
    expect(warmsWire({ download }, { dataPath: 'wire', bwlimit: 0 })).toBe(true);
  });
  it('file:// (no download()), --bwlimit (the stock path) or --data-path stock: no idle workers', () => {
    expect(warmsWire({}, { dataPath: 'wire', bwlimit: 0 })).toBe(false);
    expect(warmsWire({ download }, { dataPath: 'wire', bwlimit: 1_000_000 })).toBe(false);
    expect(warmsWire({ download }, { dataPath: 'stock', bwlimit: 0 })).toBe(false);
  });
});

describe('decide', () => {
  const base: DecideInput = { aspired: a, served: { version: 'v1', fingerprint: 'fp-1' }, rejected: null, force: false };
  const cases: [string, Partial<DecideInput>, Decision][] = [
    ['no donefile', { aspired: null }, { kind: 'no-donefile' }],
    ['a new donefile: pull', {}, { kind: 'pull', aspired: a }],
    ['nothing served yet: pull', { served: null }, { kind: 'pull', aspired: a }],
    ['the served fingerprint: current', { served: { version: 'v2', fingerprint: 'fp-2' } }, { kind: 'current', version: 'v2' }],
    [
      'served, and forced (the served copy failed its check): pull',
      { served: { version: 'v2', fingerprint: 'fp-2' }, force: true },
      { kind: 'pull', aspired: a },
    ],
    ['the rejected donefile: skipped', { rejected: 'fp-2' }, { kind: 'skipped-rejected', fingerprint: 'fp-2' }],
    ['another donefile was rejected: pull', { rejected: 'fp-0' }, { kind: 'pull', aspired: a }],
    [
      'rejected but served (rollback chose it back): current wins',
      { served: { version: 'v2', fingerprint: 'fp-2' }, rejected: 'fp-2' },
      { kind: 'current', version: 'v2' },
    ],
    ['no donefile beats everything', { aspired: null, rejected: 'fp-2', force: true }, { kind: 'no-donefile' }],
  ];
  it.each(cases)('%s', (_what, i, want) => expect(decide({ ...base, ...i })).toEqual(want));
});

describe('cycles over the in-memory source', () => {
  let dir: string;
  let src: MemorySource;
  let m: Monitor | null = null;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mm-cycle-'));
    src = new MemorySource();
  });
  afterEach(async () => {
    await m?.close();
    m = null;
    await rm(dir, { recursive: true, force: true });
  });

  async function monitor(flags: Record<string, string> = {}): Promise<Monitor> {
    const raw = resolveRaw(
      { remote: 'file:///unused', 'remote-model-name': 'model', 'remote-donefile-name': 'donefile', 'local-path': dir, ...flags },
      {},
      allOptions(),
    );
    const config: MonitorConfig = { ...buildConfig('sync', raw), openSource: () => src };
    m = createMonitor(config, silentLogger());
    await m.start();
    return m;
  }
  const publish = (n: number) => {
    src.put('model/__model__', `model ${n}\n`);
    src.put('model/params/w', `weights ${n}\n`.repeat(100));
    src.put('donefile', String(n));
  };
  const signal = () => AbortSignal.timeout(30_000);
  const served = () => readFile(path.join(dir, 'model', '__model__'), 'utf8');
  const status = () => readStatus(path.join(dir, '_serving_monitor_tmp'), 'model');

  it('no donefile, then a pull, then current, then the next version', async () => {
    const mon = await monitor();
    expect(await mon.cycle(signal())).toEqual({ kind: 'no-donefile' });
    expect(await status()).toMatchObject({ lastOutcome: 'no-donefile' });
    publish(1);
    const first = await mon.cycle(signal());
    expect(first).toMatchObject({ kind: 'updated', previous: null, files: 2 });
    expect(await served()).toBe('model 1\n');
    expect(await mon.cycle(signal())).toEqual({ kind: 'current', version: (first as { version: string }).version });
    publish(2);
    expect(await mon.cycle(signal())).toMatchObject({ kind: 'updated', previous: (first as { version: string }).version });
    expect(await served()).toBe('model 2\n');
    const st = await status();
    expect(st).toMatchObject({ lastOutcome: 'updated', staleSince: null });
    expect(st.lastSuccessAt).toBeDefined();
    expect(st.remote?.fingerprint).toBe((await mon.status()).served?.record.fingerprint);
  });

  it('a file replaced while it is pulled: never swapped in, the cycle starts over and serves one version', async () => {
    const mon = await monitor();
    publish(1);
    // The producer publishes v2 as the weights of v1 are opened: the read answers with v2's ETag.
    const open = src.open.bind(src);
    let published = false;
    src.open = async (p, o) => {
      if (p === 'model/params/w' && !published) {
        published = true;
        publish(2);
      }
      return open(p, o);
    };
    const out = await mon.cycle(signal());
    expect(out.kind).toBe('updated');
    expect(src.opens.filter((o) => o.path === 'model/params/w').length).toBe(2); // the mismatching read, then the pull started over
    expect(await served()).toBe('model 2\n');
    expect(await readFile(path.join(dir, 'model', 'params', 'w'), 'utf8')).toBe('weights 2\n'.repeat(100));
  });

  it('a --validate rejection is recorded at once, and that donefile is skipped until it changes', async () => {
    const mon = await monitor({ validate: 'exit 3' });
    publish(1);
    await expect(mon.cycle(signal())).rejects.toThrow(/--validate rejected/);
    const st = await status();
    expect(st).toMatchObject({ lastOutcome: 'failed', lastError: { code: 'E_VALIDATE' } });
    expect(st.rejected?.reason).toMatch(/--validate rejected/);
    expect(await mon.cycle(signal())).toMatchObject({ kind: 'skipped-rejected', fingerprint: st.rejected!.fingerprint });
    expect(await status()).toMatchObject({ lastOutcome: 'rejected' });
  });

  it('an idle poll writes nothing', async () => {
    const mon = await monitor();
    publish(1);
    await mon.cycle(signal());
    await mon.cycle(signal());
    const before = await readFile(path.join(dir, '_serving_monitor_tmp', 'model.status.json'), 'utf8');
    await mon.cycle(signal());
    expect(await readFile(path.join(dir, '_serving_monitor_tmp', 'model.status.json'), 'utf8')).toBe(before);
  });
});
