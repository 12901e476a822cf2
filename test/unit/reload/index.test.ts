import { describe, expect, it } from 'vitest';
import { createTriggers } from '../../../src/reload/index.js';
import { parseValues } from '../../../src/values.js';

describe('createTriggers', () => {
  it('fires in order: timestamp file, --touch, --exec, --signal, --http-post', () => {
    const c = parseValues({
      touch: '/tmp/a',
      exec: 'true',
      signal: 'hup',
      pidfile: '/tmp/g.pid',
      'http-post': 'http://127.0.0.1:8000/v2/repository/models/m/load',
      'log-format': 'json',
    });
    expect(createTriggers(c).map((t) => t.name)).toEqual([
      'timestamp-file fluid_time_file',
      'touch /tmp/a',
      'exec',
      'signal SIGHUP',
      'http-post http://127.0.0.1:8000/v2/repository/models/m/load',
    ]);
  });

  it('none but the timestamp file by default; none at all with --no-touch', () => {
    expect(createTriggers(parseValues({ 'log-format': 'json' })).map((t) => t.name)).toEqual(['timestamp-file fluid_time_file']);
    expect(createTriggers(parseValues({ 'touch-timestamp': 'false', 'log-format': 'json' }))).toEqual([]);
  });
});
