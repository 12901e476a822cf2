/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY for every HTTP-based source (the AWS SDK
 * and node:http ignore the variables): a fleet can pull through a caching
 * proxy or a P2P layer (Dragonfly's dfdaemon) instead of each replica hitting
 * the bucket or the namenode. The agent modules are loaded only when a proxy
 * applies (they are ES modules, so by import()).
 */
import type { Agent } from 'node:http';
import { proxyFromEnv } from '../lazy.js';

export interface AgentOptions {
  readonly keepAlive: boolean;
  readonly maxSockets: number;
}

/** The proxy URL the environment gives for `target`, or null (NO_PROXY, or none set). */
export function proxyFor(target: string): string | null {
  return proxyFromEnv().getProxyForUrl(target) || null;
}

/**
 * An agent that reaches `secure` (https) or plain http targets through `proxy`:
 * http:// requests go to the proxy in absolute form, as curl and wget send them
 * (proxies often refuse CONNECT to ports other than 443); https:// through CONNECT.
 */
export async function proxyAgent(proxy: string, secure: boolean, o: AgentOptions): Promise<Agent> {
  if (secure) {
    const { HttpsProxyAgent } = await import('https-proxy-agent');
    return new HttpsProxyAgent(proxy, { ...o });
  }
  const { HttpProxyAgent } = await import('http-proxy-agent');
  // Plain-HTTP proxies often close the client connection after each answer (tinyproxy does after
  // a HEAD): a reused keep-alive socket then hangs up mid-request. One connection per request.
  return new HttpProxyAgent(proxy, { ...o, keepAlive: false });
}

/** Agents for requests to `target`: through the environment's proxy, or plain options when none applies. */
export async function agentsFor(target: string, o: AgentOptions): Promise<{ httpAgent: Agent | AgentOptions; httpsAgent: Agent | AgentOptions; proxy: string | null }> {
  const proxy = proxyFor(target);
  if (!proxy) return { httpAgent: o, httpsAgent: o, proxy: null };
  return { httpAgent: await proxyAgent(proxy, false, o), httpsAgent: await proxyAgent(proxy, true, o), proxy };
}
