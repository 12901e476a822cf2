/**
 * The WebHDFS test server's write operations, after the Apache Hadoop WebHDFS
 * REST API: CREATE (namenode: 307 to the datanode, or `noredirect=true` JSON;
 * datanode: the body becomes the file, 201 Created), MKDIRS, RENAME (plain: a
 * boolean, false when the destination exists; with renameoptions=OVERWRITE:
 * HDFS rename2, replacing it, empty 200) and DELETE (boolean; a non-empty
 * directory without recursive=true is a PathIsNotEmptyDirectoryException).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fail, send, type LoggedRequest } from './webhdfs.js';

type Req = LoggedRequest & { readonly local: string };

interface Where {
  readonly root: string;
  readonly nnPort: number;
  readonly dnPort: number;
}

const localOf = (root: string, hdfs: string) => path.join(root, ...hdfs.split('/').filter(Boolean));

export async function writeOp(q: IncomingMessage, r: ServerResponse, req: Req, w: Where): Promise<void> {
  q.resume();
  const st = await stat(req.local).catch(() => null);
  switch (`${q.method} ${req.op}`) {
    case 'PUT CREATE': {
      if (st && req.params.overwrite !== 'true') return fail(r, 'FileAlreadyExistsException', `${req.path} for client 127.0.0.1 already exists`);
      const params = new URLSearchParams({ ...req.params, op: 'CREATE', namenoderpcaddress: '127.0.0.1:8020' });
      params.delete('noredirect');
      const location = `http://127.0.0.1:${w.dnPort}/webhdfs/v1${req.path.split('/').map(encodeURIComponent).join('/')}?${params.toString()}`;
      if (req.params.noredirect === 'true') return send(r, 200, { Location: location });
      r.writeHead(307, { location, 'content-length': '0' }).end();
      return;
    }
    case 'PUT MKDIRS':
      await mkdir(req.local, { recursive: true });
      return send(r, 200, { boolean: true });
    case 'PUT RENAME':
      return renameOp(r, req, st !== null, w);
    case 'DELETE DELETE': {
      if (!st) return send(r, 200, { boolean: false });
      if (!st.isDirectory()) await unlink(req.local);
      else if (req.params.recursive === 'true') await rm(req.local, { recursive: true });
      else {
        const gone = await rmdir(req.local).then(
          () => true,
          () => false,
        );
        if (!gone) return fail(r, 'PathIsNotEmptyDirectoryException', `\`${req.path} is non empty': Directory is not empty`);
      }
      return send(r, 200, { boolean: true });
    }
  }
  fail(r, 'IllegalArgumentException', `Invalid value for webhdfs parameter "op": ${req.op} is not a ${q.method} operation`);
}

async function renameOp(r: ServerResponse, req: Req, exists: boolean, w: Where): Promise<void> {
  const dest = req.params.destination ?? '';
  const local = localOf(w.root, dest);
  const overwrite = (req.params.renameoptions ?? '').toUpperCase().split(',').includes('OVERWRITE');
  const destExists = await stat(local).then(
    () => true,
    () => false,
  );
  if (!overwrite) {
    if (!exists || destExists) return send(r, 200, { boolean: false });
    await rename(req.local, local);
    return send(r, 200, { boolean: true });
  }
  if (!exists) return fail(r, 'FileNotFoundException', `rename source ${req.path} is not found.`);
  if (
    !(await stat(path.dirname(local)).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    return fail(r, 'FileNotFoundException', `rename destination parent ${path.posix.dirname(dest)} not found.`);
  await rename(req.local, local);
  r.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '0' }).end();
}

/** The datanode half of CREATE: the request body is the file. */
export async function createOnDatanode(q: IncomingMessage, r: ServerResponse, req: Req, nnPort: number): Promise<void> {
  await mkdir(path.dirname(req.local), { recursive: true });
  const exists = await stat(req.local).then(
    () => true,
    () => false,
  );
  if (exists && req.params.overwrite !== 'true') {
    q.resume();
    return fail(r, 'FileAlreadyExistsException', `${req.path} for client 127.0.0.1 already exists`);
  }
  await pipeline(q, createWriteStream(req.local));
  r.writeHead(201, { location: `webhdfs://127.0.0.1:${nnPort}${req.path}`, 'content-length': '0' }).end();
}
