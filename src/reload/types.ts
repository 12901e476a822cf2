import type { Logger } from '../log.js';

export interface ReloadEvent {
  /** The directory the new model is in (the served path, or the version dir for `versioned`). */
  readonly modelDir: string;
  readonly version: string;
  readonly previousVersion: string | null;
  /** Where the previous model is now (its timestamp file tells the last touched second). */
  readonly previousDir: string | null;
}

/** git-sync's Hook: a name and one idempotent action with its own timeout. */
export interface ReloadTrigger {
  readonly name: string;
  fire(event: ReloadEvent, ctx: { log: Logger; signal: AbortSignal }): Promise<void>;
}
