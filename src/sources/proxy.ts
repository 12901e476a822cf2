/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY for the sources whose clients take node
 * http(s) Agents (the AWS SDK ignores the variables): a fleet can pull through
 * a caching proxy or a P2P layer (Dragonfly's dfdaemon) instead of each
 * replica hitting the bucket.
 */
import type { Agent } from 'node:http';
import { httpProxyAgent, httpsProxyAgent, proxyFromEnv } from '../lazy.js';

export interface AgentOptions {
  readonly keepAlive: boolean;
  readonly maxSockets: number;
}

/** Agents for requests to `target`: through the environment's proxy, or plain options when none applies. */
export function agentsFor(target: string, o: AgentOptions): { httpAgent: Agent | AgentOptions; httpsAgent: Agent | AgentOptions; proxy: string | null } {
  const proxy = proxyFromEnv().getProxyForUrl(target);
  if (!proxy) return { httpAgent: o, httpsAgent: o, proxy: null };
  return {
    // Plain-HTTP proxies often close the client connection after each answer (tinyproxy does after
    // a HEAD): a reused keep-alive socket then hangs up mid-request. One connection per request.
    httpAgent: new (httpProxyAgent().HttpProxyAgent)(proxy, { ...o, keepAlive: false }),
    httpsAgent: new (httpsProxyAgent().HttpsProxyAgent)(proxy, { ...o }),
    proxy,
  };
}
