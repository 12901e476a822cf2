import { describe, expect, it } from 'vitest';
import {
  classifyHadoopStderr,
  escapeGlob,
  isLegacyRecursiveLs,
  parseLsLine,
  parseLsOutput,
  parseStat,
  relativeTo,
  stderrSummary,
} from '../../../src/sources/hadoop-output.js';

const local = (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo - 1, d, h, mi).getTime();

describe('parseLsLine', () => {
  it('reads a Hadoop 2/3 file line', () => {
    expect(parseLsLine('-rw-r--r--   3 hdfs supergroup   12345 2024-03-05 17:09 /models/m1/a.bin')).toEqual({
      permissions: '-rw-r--r--',
      isDirectory: false,
      size: 12345,
      mtimeMs: local(2024, 3, 5, 17, 9),
      path: '/models/m1/a.bin',
    });
  });

  it('reads directories (replication "-"), ACL "+" flags and owners or groups with spaces', () => {
    expect(parseLsLine('drwxr-xr-x   - hdfs supergroup          0 2024-03-05 17:09 /models/m1/sub')).toMatchObject({
      isDirectory: true,
      size: 0,
      path: '/models/m1/sub',
    });
    expect(parseLsLine('-rw-r-----+  3 alice domain users 7 2024-01-02 03:04 /x/y')).toMatchObject({ size: 7, path: '/x/y' });
  });

  it('keeps paths with spaces, leading dashes and things that look like columns', () => {
    expect(parseLsLine('-rw-r--r-- 3 u g 5 2024-01-01 00:00 /m/with space.txt')?.path).toBe('/m/with space.txt');
    expect(parseLsLine('-rw-r--r-- 3 u g 5 2024-01-01 00:00 /m/x 9 2020-01-01 00:00 y')).toMatchObject({
      size: 5,
      path: '/m/x 9 2020-01-01 00:00 y',
    });
    expect(parseLsLine('-rw-r--r-- 3 u g 5 2024-01-01 00:00 hdfs://nn:8020/m/模型 .bin')?.path).toBe('hdfs://nn:8020/m/模型 .bin');
  });

  it('skips the "Found N items" header and blank lines; refuses anything else', () => {
    expect(parseLsLine('Found 3 items')).toBeNull();
    expect(parseLsLine('Found 1 item')).toBeNull();
    expect(parseLsLine('')).toBeNull();
    expect(() => parseLsLine('WARN util.NativeCodeLoader: Unable to load native-hadoop library')).toThrow(SyntaxError);
  });

  it('parses a whole -ls -R output, CRLF tolerated', () => {
    const out = [
      'Found 2 items',
      'drwxr-xr-x   - hdfs supergroup          0 2024-03-05 17:09 /m/sub',
      '-rw-r--r--   3 hdfs supergroup          4 2024-03-05 17:09 /m/a.bin\r',
      '',
    ].join('\n');
    expect(parseLsOutput(out).map((e) => [e.path, e.size, e.isDirectory])).toEqual([
      ['/m/sub', 0, true],
      ['/m/a.bin', 4, false],
    ]);
  });
});

describe('parseStat', () => {
  it('reads "%b %Y %F" for files and directories', () => {
    expect(parseStat('1234 1709658540123 regular file\n')).toEqual({ size: 1234, mtimeMs: 1709658540123, isDirectory: false });
    expect(parseStat('0 1709658540123 directory')).toEqual({ size: 0, mtimeMs: 1709658540123, isDirectory: true });
    expect(parseStat('0 1 regular empty file').isDirectory).toBe(false);
  });

  it('takes the last line (warnings first) and refuses junk', () => {
    expect(parseStat('some warning\n5 6 regular file').size).toBe(5);
    expect(() => parseStat('%b %Y %F')).toThrow(SyntaxError);
    expect(() => parseStat('1 2 socket')).toThrow(/file type/);
    expect(() => parseStat('')).toThrow(SyntaxError);
  });
});

describe('classifyHadoopStderr', () => {
  it('knows FsShell not-found wordings (Hadoop 1, 2, 3)', () => {
    expect(classifyHadoopStderr("ls: `/x/donefile': No such file or directory")).toBe('not-found');
    expect(classifyHadoopStderr("stat: `/a b': No such file or directory\n")).toBe('not-found');
    expect(classifyHadoopStderr('ls: Cannot access /x: No such file or directory.')).toBe('not-found');
    expect(classifyHadoopStderr('cat: java.io.FileNotFoundException: File does not exist: /x')).toBe('not-found');
  });

  it('does not mistake a broken install for an absent file', () => {
    expect(classifyHadoopStderr('/opt/hadoop/bin/hadoop: line 3: /usr/java/bin/java: No such file or directory')).toBe('other');
  });

  it('permission problems are auth; connection problems are other', () => {
    expect(classifyHadoopStderr('ls: Permission denied: user=a, access=READ_EXECUTE, inode="/x":hdfs:hdfs:drwx------')).toBe('auth');
    expect(classifyHadoopStderr('ls: Call From h/1.2.3.4 to nn:8020 failed on connection exception: java.net.ConnectException: Connection refused')).toBe(
      'other',
    );
  });
});

describe('helpers', () => {
  it('stderrSummary drops stack frames and log noise', () => {
    const err = '24/01/01 10:00:00 WARN util.NativeCodeLoader: Unable to load\nls: boom happened\n\tat org.apache.X(X.java:1)\n';
    expect(stderrSummary(err)).toBe('ls: boom happened');
    expect(stderrSummary('x'.repeat(1000))).toHaveLength(300);
  });

  it('isLegacyRecursiveLs spots a Hadoop 1 client refusing -R', () => {
    expect(isLegacyRecursiveLs('ls: Cannot access -R: No such file or directory.')).toBe(true);
    expect(isLegacyRecursiveLs("ls: `/m': No such file or directory")).toBe(false);
  });

  it('escapeGlob escapes Hadoop glob characters only', () => {
    expect(escapeGlob('/m/[a] {b}*?.bin')).toBe('/m/\\[a\\] \\{b\\}\\*\\?.bin');
    expect(escapeGlob('/plain/with space')).toBe('/plain/with space');
    expect(escapeGlob('/a\\b')).toBe('/a\\\\b');
  });

  it('relativeTo strips the listed dir, URI forms included', () => {
    expect(relativeTo('/m', '/m/a/b.bin')).toBe('a/b.bin');
    expect(relativeTo('/m/', 'hdfs://nn:8020/m/a')).toBe('a');
    expect(relativeTo('/', '/x')).toBe('x');
    expect(relativeTo('/m', '/m')).toBeNull();
    expect(() => relativeTo('/m', '/other/a')).toThrow(SyntaxError);
  });
});
