import { describe, expect, it } from 'vitest';
import { createTerminal, type TermStream } from '../../src/terminal.js';

/** Both streams write to one screen log, in order, as two fds on one terminal do. */
function screen(tty = { out: true, err: true }, columns = 40) {
  const events: string[] = [];
  const mk = (name: string, isTTY: boolean): TermStream => ({ write: (s: string) => events.push(`${name}:${JSON.stringify(s)}`), isTTY, columns });
  return { out: mk('out', tty.out), err: mk('err', tty.err), events };
}

const CLEAR = '\r\u001b[2K';

describe('createTerminal', () => {
  it('a log line printed under a status line clears it, prints the line whole, then redraws it', () => {
    const s = screen();
    const t = createTerminal(s.out, s.err);
    t.status('pulling [====----] 50%');
    t.print('12:00:00 INFO: a long log line that is longer than the forty columns of this screen\n');
    expect(s.events).toEqual([
      `err:${JSON.stringify(`${CLEAR}pulling [====----] 50%`)}`,
      `err:${JSON.stringify(CLEAR)}`,
      'out:"12:00:00 INFO: a long log line that is longer than the forty columns of this screen\\n"',
      'err:"pulling [====----] 50%"',
    ]);
  });

  it('the status line is cut to one column short of the width; log lines are never cut', () => {
    const s = screen();
    const t = createTerminal(s.out, s.err);
    t.status('x'.repeat(100));
    expect(s.events[0]).toBe(`err:${JSON.stringify(`${CLEAR}${'x'.repeat(39)}`)}`);
  });

  it('commit leaves the status line as a line; afterwards lines print plainly', () => {
    const s = screen();
    const t = createTerminal(s.out, s.err);
    t.status('done 100%');
    t.commit();
    t.print('next\n');
    expect(s.events.slice(1)).toEqual(['err:"\\n"', 'out:"next\\n"']);
  });

  it('stdout not a terminal (piped): lines go there untouched, the bar stays on stderr', () => {
    const s = screen({ out: false, err: true });
    const t = createTerminal(s.out, s.err);
    t.status('bar');
    t.print('{"level":30}\n');
    expect(s.events).toEqual([`err:${JSON.stringify(`${CLEAR}bar`)}`, 'out:"{\\"level\\":30}\\n"']);
  });

  it('stderr not a terminal: no status line at all; note() writes whole lines', () => {
    const s = screen({ out: true, err: false });
    const t = createTerminal(s.out, s.err);
    expect(t.live).toBe(false);
    t.status('bar');
    t.note('pulling 50%');
    expect(s.events).toEqual(['err:"pulling 50%\\n"']);
  });
});
