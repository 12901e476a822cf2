import { describe, expect, it } from 'vitest';
import { kserveTargets, splitModelUri } from '../../src/kserve.js';
import { configError } from '../helpers/checks.js';

describe('splitModelUri: the URI names the model itself', () => {
  it.each([
    ['ftp://u@h:21/serving/uci_housing_model', 'ftp://u@h:21/serving/', 'uci_housing_model'],
    ['ftp://h/serving/uci_housing_model/', 'ftp://h/serving/', 'uci_housing_model'],
    ['s3://bucket/model', 's3://bucket/', 'model'],
    ['webhdfs://nn1:9870,nn2:9870/models/m', 'webhdfs://nn1:9870,nn2:9870/models/', 'm'],
    ['https://h/models/model.tar.gz', 'https://h/models/', 'model.tar.gz'],
    ['file:///srv/models/with%20space', 'file:///srv/models/', 'with space'],
  ])('%s', (uri, root, model) => {
    expect(splitModelUri(uri)).toEqual({ root, model });
  });

  it('a URI without a model path, or not a URL, is bad input', () => {
    expect(configError(() => splitModelUri('s3://bucket')).message).toMatch(/names no model/);
    expect(configError(() => splitModelUri('s3://bucket/')).message).toMatch(/names no model/);
    expect(configError(() => splitModelUri('/mnt/models')).message).toMatch(/not a URL/);
  });
});

describe('kserveTargets', () => {
  it('takes URI DEST pairs and builds each source', () => {
    const t = kserveTargets(['file:///srv/a/m', 'dest1', 'ftp://h/x/y', '/mnt/models'], {});
    expect(t.map((x) => [x.remote.factory.kind, x.remote.remoteModel, x.dest.endsWith('dest1') || x.dest])).toEqual([
      ['file', 'm', true],
      ['ftp', 'y', '/mnt/models'],
    ]);
  });

  it('through a proxy, whole files unless --part-size is given (a shared cache stores whole objects)', () => {
    const whole = (raw: Record<string, string>) => kserveTargets(['http://origin/models/m', '/d'], raw)[0]!.wholeFiles;
    expect(whole({})).toBe(false);
    expect(whole({ proxy: 'http://squid:3128' })).toBe(true);
    expect(whole({ proxy: 'http://squid:3128', 'part-size': '16M' })).toBe(false);
    expect(whole({ proxy: 'none' })).toBe(false);
  });

  it('an odd argument count, or a scheme no source reads, is bad input', () => {
    expect(configError(() => kserveTargets(['file:///a/m'], {})).message).toMatch(/URI DEST/);
    expect(configError(() => kserveTargets(['gopher://h/m', '/d'], {})).message).toMatch(/no source for gopher/);
  });
});
