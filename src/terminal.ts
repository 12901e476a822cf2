/**
 * One terminal shared by log lines (stdout) and the progress bar (one status
 * line on stderr). With both on a TTY, every log line clears the bar, is
 * printed whole, and the bar is drawn again below it, so neither overwrites
 * the other. All writes happen on the main thread, in order (TTY writes are
 * synchronous on POSIX), which is why pretty logs no longer go through a
 * pino transport worker.
 */
export interface TermStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Terminal {
  /** True when the status line can be redrawn in place (stderr is a TTY). */
  readonly live: boolean;
  /** Writes log text (whole lines) to stdout, around the status line. */
  print(text: string): void;
  /** Shows or replaces the status line; null clears it. Only when `live`. */
  status(text: string | null): void;
  /** Leaves the status line on screen as an ordinary line and starts a fresh one. */
  commit(): void;
  /** A whole line on stderr (a progress line when not `live`). */
  note(text: string): void;
}

const CLEAR = '\r\u001b[2K';

export function createTerminal(out: TermStream, err: TermStream): Terminal {
  const live = err.isTTY === true;
  // Only when stdout is a terminal too do its lines land on the bar's screen.
  const shared = live && out.isTTY === true;
  let shown: string | null = null;
  const fit = (s: string) => {
    // One column short of the width: a line that fills it would leave the cursor in the wrap state.
    const w = Math.max((err.columns ?? 80) - 1, 10);
    return s.length > w ? s.slice(0, w) : s;
  };
  return {
    live,
    print(text) {
      if (shown !== null && shared) {
        err.write(CLEAR);
        out.write(text);
        err.write(shown);
        return;
      }
      out.write(text);
    },
    status(text) {
      if (!live) return;
      if (text === null) {
        if (shown !== null) err.write(CLEAR);
        shown = null;
        return;
      }
      shown = fit(text);
      err.write(`${CLEAR}${shown}`);
    },
    commit() {
      if (shown === null) return;
      err.write('\n');
      shown = null;
    },
    note(text) {
      err.write(`${text}\n`);
    },
  };
}
