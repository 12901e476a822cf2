/**
 * Every source gets exactly what FTP users get: the same command, with only
 * --remote switched between ftp://, s3://, http://, webhdfs:// and file://,
 * serves the same model. Plus Paddle's `--type general --general_host` with a
 * single tar.gz model (`--unpacked_filename`) over HTTP.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { asStrings, modelFiles, publish, readTree, touchDonefile } from '../helpers/producer.js';
import { rawTar } from '../helpers/tar.js';
import { removeRoot, startFtpSrv, type FtpSrvHandle } from '../servers/ftp-srv.js';
import { startHttpFileServer, type HttpFileServer } from '../servers/http.js';
import { seedObjects, startS3rver, type S3rverHandle } from '../servers/s3rver.js';
import { WebHdfsTestServer } from '../servers/webhdfs.js';

describe('one command, five sources', () => {
  let dir: string;
  let ftp: FtpSrvHandle;
  let s3: S3rverHandle;
  let http: HttpFileServer;
  let hdfs: WebHdfsTestServer;
  const files = modelFiles(7, { 'nested/deeper/x.bin': 'x', 'with space.txt': 'space', empty: '' });
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mm-same-'));
    ftp = await startFtpSrv();
    await publish(path.join(ftp.root, 'models'), 'model', files);
    const www = path.join(dir, 'www');
    await publish(www, 'model', files);
    http = await startHttpFileServer(www);
    const hroot = path.join(dir, 'hdfs');
    await publish(path.join(hroot, 'models'), 'model', files);
    hdfs = await WebHdfsTestServer.start({ root: hroot });
    s3 = await startS3rver('models');
    await seedObjects(s3, [...Object.entries(files).map(([k, v]) => [`m/model/${k}`, v.toString()] as [string, string]), ['m/donefile', 'done']]);
  });
  afterAll(async () => {
    await Promise.allSettled([ftp?.stop(), s3?.close(), http?.close(), hdfs?.close()]);
    if (ftp) await removeRoot(ftp);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the same model whichever --remote', async () => {
    const remotes = {
      ftp: `ftp://127.0.0.1:${ftp.port}/models`,
      s3: 's3://models/m',
      http: `${http.url}/`,
      webhdfs: `${hdfs.url}/models`,
      file: `file://${path.join(dir, 'www')}`,
    };
    // Source-specific settings come from the environment, so the command line is the same.
    const env = {
      MODEL_MONITOR_S3_ENDPOINT: s3.directEndpoint,
      MODEL_MONITOR_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    };
    for (const [name, remote] of Object.entries(remotes)) {
      const local = path.join(dir, `local-${name}`);
      const r = await run(['sync', '--remote', remote, '--remote_model_name', 'model', '--remote_donefile_name', 'donefile', '--local_path', local], { env });
      expect(r.code, `${name}: ${r.stderr}${r.stdout.slice(-1500)}`).toBe(0);
      // On Node 20 the AWS SDK warns that its 2027 releases need Node 22: silenced (that warning only; see docs/operations.md).
      expect(r.stderr, name).not.toMatch(/NodeVersionSupportWarning|will require node/i);
      const tree = await readTree(path.join(local, 'model'));
      delete tree['fluid_time_file'];
      expect(tree, name).toEqual(asStrings(files));
    }
  });

  it('the AWS SDK warning is silenced through its own switch only: a user who sets the switch to false sees it', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    const env = {
      MODEL_MONITOR_S3_ENDPOINT: s3.directEndpoint,
      MODEL_MONITOR_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    };
    const args = [
      'sync',
      '--remote',
      's3://models/m',
      '--remote_model_name',
      'model',
      '--remote_donefile_name',
      'donefile',
      '--local_path',
      path.join(dir, 'local-s3-warn'),
    ];
    const r = await run(args, { env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' } });
    expect(r.code, r.stderr).toBe(0);
    if (major < 22) expect(r.stderr).toMatch(/NodeVersionSupportWarning/);
    else expect(r.stderr).not.toMatch(/NodeVersionSupportWarning/);
  });

  it("kserve-init: every source's URL form names the model itself (no donefile); DEST holds exactly the model, exit 0", async () => {
    const uris = {
      ftp: `ftp://127.0.0.1:${ftp.port}/models/model`,
      s3: 's3://models/m/model',
      http: `${http.url}/model/`,
      webhdfs: `${hdfs.url}/models/model`,
      file: `file://${path.join(dir, 'www', 'model')}`,
    };
    const env = {
      MODEL_MONITOR_S3_ENDPOINT: s3.directEndpoint,
      MODEL_MONITOR_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    };
    for (const [name, uri] of Object.entries(uris)) {
      const dest = path.join(dir, `kserve-${name}`, 'mnt', 'models');
      const r = await run(['kserve-init', uri, dest], { env });
      expect(r.code, `${name}: ${r.stderr}${r.stdout.slice(-1500)}`).toBe(0);
      expect(await readTree(dest), name).toEqual(asStrings(files)); // no staging dir, no timestamp file
      expect(r.lines.find((l) => l.event === 'kserve-ready')?.msg, name).toMatch(new RegExp(`^${dest} holds the model: 6 files`));
    }
    // KServe's storageUris: URI DEST pairs in one run.
    const [a, b] = [path.join(dir, 'kserve-pair', 'a'), path.join(dir, 'kserve-pair', 'b')];
    const r = await run(['kserve-init', uris.file, a, uris.http, b], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(await readTree(a)).toEqual(asStrings(files));
    expect(await readTree(b)).toEqual(asStrings(files));
  });

  it("Paddle's --type general with a tar.gz model and --unpacked_filename", async () => {
    const www = path.join(dir, 'www2');
    const tar = rawTar([
      { name: 'uci_housing_model/', type: '5' },
      { name: 'uci_housing_model/__model__', data: 'tar model\n' },
      { name: 'uci_housing_model/params/fc_0.w_0', data: 'w\n' },
    ]);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(www, { recursive: true });
    await writeFile(path.join(www, 'uci_housing_model.tar.gz'), gzipSync(tar));
    await touchDonefile(www);
    const srv = await startHttpFileServer(www);
    try {
      const local = path.join(dir, 'local-general');
      const r = await run([
        'sync',
        '--type',
        'general',
        '--general_host',
        srv.url,
        '--remote_path',
        '/',
        '--remote_model_name',
        'uci_housing_model.tar.gz',
        '--remote_donefile_name',
        'donefile',
        '--unpacked_filename',
        'uci_housing_model',
        '--local_path',
        local,
      ]);
      expect(r.code, r.stderr + r.stdout.slice(-1500)).toBe(0);
      expect(await readFile(path.join(local, 'uci_housing_model', '__model__'), 'utf8')).toBe('tar model\n');
      expect(await readFile(path.join(local, 'uci_housing_model', 'params', 'fc_0.w_0'), 'utf8')).toBe('w\n');
    } finally {
      await srv.close();
    }
  });
});
