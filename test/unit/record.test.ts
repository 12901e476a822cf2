/** The record step's status patch (record.ts), table-driven; and its one writer's write-once rule. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TransientError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { StatusRecord, statusPatch, type CycleEnd } from '../../src/record.js';
import { readStatus, statusPath } from '../../src/state.js';

const now = new Date('2026-01-02T03:04:05.000Z');
const fresh = { remote: { version: 'v2', fingerprint: 'fp-2', seenAt: Date.parse('2026-01-02T03:00:00Z') }, staleSince: null };
const freshRec = { remote: { version: 'v2', fingerprint: 'fp-2', seenAt: '2026-01-02T03:00:00.000Z' }, staleSince: null };

describe('statusPatch', () => {
  const cases: [string, CycleEnd, object][] = [
    [
      'updated: the success time and the traffic',
      { kind: 'updated', version: 'v2', previous: 'v1', bytes: 10, files: 1, fetchedBytes: 3, reusedBytes: 7 },
      {
        lastOutcome: 'updated',
        lastError: undefined,
        lastSuccessAt: now.toISOString(),
        lastUpdate: { version: 'v2', bytes: 10, fetchedBytes: 3, reusedBytes: 7 },
      },
    ],
    ['current: no success time (nothing changed)', { kind: 'current', version: 'v2' }, { lastOutcome: 'current', lastError: undefined }],
    ['no donefile', { kind: 'no-donefile' }, { lastOutcome: 'no-donefile', lastError: undefined }],
    ['the rejected donefile', { kind: 'skipped-rejected', fingerprint: 'fp-2' }, { lastOutcome: 'rejected', lastError: undefined }],
    [
      'failed: its code and message',
      { kind: 'failed', err: new TransientError('down') },
      { lastOutcome: 'failed', lastError: { code: 'E_TRANSIENT', message: 'down' } },
    ],
    ['failed with no MonitorError', { kind: 'failed', err: new Error('bug') }, { lastOutcome: 'failed', lastError: { code: 'E_UNKNOWN', message: 'bug' } }],
  ];
  it.each(cases)('%s', (_what, end, want) => expect(statusPatch(end, fresh, now)).toStrictEqual({ ...want, ...freshRec }));
});

describe('StatusRecord', () => {
  it('writes a cycle end only when it changed; a rejection at once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mm-record-'));
    try {
      const r = new StatusRecord({ workDir: dir, name: 'm', log: silentLogger(), freshness: () => fresh });
      await r.ended({ kind: 'current', version: 'v2' });
      // every write is a new file renamed over the old one: the same inode means no write
      const ino = (await stat(statusPath(dir, 'm'))).ino;
      await r.ended({ kind: 'current', version: 'v2' });
      expect((await stat(statusPath(dir, 'm'))).ino).toBe(ino);
      await r.ended({ kind: 'no-donefile' });
      expect((await stat(statusPath(dir, 'm'))).ino).not.toBe(ino);
      await r.reject({ fingerprint: 'fp-2', reason: 'bad', at: now.toISOString() });
      expect((await readStatus(dir, 'm')).rejected?.fingerprint).toBe('fp-2');
      await r.ended({ kind: 'skipped-rejected', fingerprint: 'fp-2' });
      expect(await readStatus(dir, 'm')).toMatchObject({ lastOutcome: 'rejected', rejected: { fingerprint: 'fp-2' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
