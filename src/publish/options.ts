/** publish's own flags (the remote, model and donefile flags, --concurrency, --timeout and --retries are the monitor's). */
import { DEFAULT_CHUNKING, type ChunkParams } from '../chunk/cdc.js';
import type { OptionSpec, RawOptions } from '../options.js';
import { preheatOptions } from '../preheat-cli.js';
import { bool, num, parseBytes } from '../values.js';

const P = 'Publish';

export const publishOptions: readonly OptionSpec[] = [
  { name: 'keep-versions', kind: 'int', metavar: 'N', group: P, default: '2', help: 'publish: versions kept on the remote, the new one included (a monitor still pulling the previous one finishes it)' },
  { name: 'chunk-index', kind: 'bool', group: P, default: true, help: 'publish: a chunk index for big files, so monitors fetch only changed chunks (--no-chunk-index: none)' },
  { name: 'chunk-threshold', kind: 'bytes', metavar: 'SIZE', group: P, default: '8M', help: 'publish: files larger than this get a chunk index' },
];

/** Every flag publish takes beyond the monitor's: its own, and preheat's (`--preheat-url` warms the new version once it is published). */
export const publishFlags: readonly OptionSpec[] = [...publishOptions, ...preheatOptions];

export interface PublishValues {
  readonly keepVersions: number;
  readonly chunking: { readonly params: ChunkParams; readonly threshold: number } | null;
}

export function parsePublishValues(raw: RawOptions): PublishValues {
  const keepVersions = num(raw, 'keep-versions', { int: true, min: 1, max: 1000 }) ?? 2;
  const indexed = raw['chunk-index'] === undefined || bool(raw, 'chunk-index');
  const t = raw['chunk-threshold'];
  const threshold = t === undefined || t === '' ? 8 * 1024 * 1024 : /^0+$/.test(t.trim()) ? 0 : parseBytes('chunk-threshold', t);
  return { keepVersions, chunking: indexed ? { params: DEFAULT_CHUNKING, threshold } : null };
}
