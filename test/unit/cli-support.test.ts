/** Secrets typed on the command line are warned about, with the place to put them instead (from the specs). */
import { expect, it } from 'vitest';
import { exposedSecrets } from '../../src/cli-support.js';
import { allOptions } from '../../src/config.js';

it.each([
  [
    'a secret flag with a FILE sibling',
    { 'ftp-password': 'x' },
    '--ftp-password is visible to other users in ps: use --ftp-password-file FILE or MODEL_MONITOR_FTP_PASSWORD',
  ],
  ['a secret flag without one', { 'hdfs-token': 'x' }, '--hdfs-token is visible to other users in ps: use MODEL_MONITOR_HDFS_TOKEN'],
  [
    "an ftp:// URL with a password: its source's password flag",
    { remote: 'ftp://u:p@h/m' },
    'the password in --remote is visible to other users in ps: use --ftp-password-file FILE or MODEL_MONITOR_FTP_PASSWORD',
  ],
  [
    'an http:// URL with a password: env or a config file',
    { remote: 'http://u:p@h/m' },
    'the password in --remote is visible to other users in ps: use MODEL_MONITOR_REMOTE or a --config file',
  ],
])('%s', (_what, cli, warning) => {
  expect(exposedSecrets(cli, allOptions())).toEqual([warning]);
});

it('a URL without a password is not warned about', () => {
  expect(exposedSecrets({ remote: 'ftp://u@h/m', 'http-post': 'http://h/load' }, allOptions())).toEqual([]);
});
