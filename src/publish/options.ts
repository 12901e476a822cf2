/** publish's own flags (the remote, model and donefile flags, --concurrency, --timeout and --retries are the monitor's). */
import { DEFAULT_CHUNKING, type ChunkParams } from '../chunk/cdc.js';
import { readOptions } from '../option-values.js';
import type { OptionSpec, RawOptions } from '../options.js';
import { preheatOptions } from '../preheat-cli.js';

const P = 'Publish';

// An option table reads one flag per line.
// prettier-ignore
export const publishOptions = [
  { name: 'keep-versions', kind: 'int', metavar: 'N', group: P, default: '2', min: 1, max: 1000, help: 'publish: versions kept on the remote, the new one included (a monitor still pulling the previous one finishes it)' },
  { name: 'chunk-index', kind: 'bool', group: P, default: true, help: 'publish: a chunk index for big files, so monitors fetch only changed chunks (--no-chunk-index: none)' },
  { name: 'chunk-threshold', kind: 'bytes', metavar: 'SIZE', group: P, default: '8M', zeroOff: true, help: 'publish: files larger than this get a chunk index' },
] as const satisfies readonly OptionSpec[];

/** Every flag publish takes beyond the monitor's: its own, and preheat's (`--preheat-url` warms the new version once it is published). */
export const publishFlags: readonly OptionSpec[] = [...publishOptions, ...preheatOptions];

export interface PublishValues {
  readonly keepVersions: number;
  readonly chunking: { readonly params: ChunkParams; readonly threshold: number } | null;
}

export function parsePublishValues(raw: RawOptions): PublishValues {
  const v = readOptions(publishOptions, raw);
  return { keepVersions: v.keepVersions, chunking: v.chunkIndex ? { params: DEFAULT_CHUNKING, threshold: v.chunkThreshold } : null };
}
