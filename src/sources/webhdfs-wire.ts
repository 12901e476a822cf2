/**
 * A WebHDFS datanode read on the wire engine: the datanode URL the namenode
 * signed carries the offset and length (no Range header), a good answer is a
 * 200 from the offset and says nothing about the file's version (as on the
 * stock path), an error is a RemoteException mapped as the client maps it.
 */
import { classifyRemote, remoteException, remoteToMonitorError } from './webhdfs-client.js';
import type { WireGet } from './wire-get.js';

export function datanodeGet(url: URL, what: string): WireGet {
  return {
    url,
    // no-cache: a shared cache on the way answers only after the origin confirms its copy
    headers: { 'cache-control': 'no-cache', 'user-agent': 'model-monitor' },
    what,
    expect: 200,
    rangeInUrl: true,
    meta: () => ({}),
    refuse: (status, body) => {
      const re = remoteException(status, body);
      return remoteToMonitorError(classifyRemote(re.status, re.exception), what, re);
    },
  };
}
