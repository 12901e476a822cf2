/**
 * Which proxy a remote's requests go through, for every HTTP-based source
 * (the AWS SDK and node:http ignore the environment): `--proxy URL` for this
 * remote, `--proxy none` for no proxy at all, else HTTP_PROXY / HTTPS_PROXY /
 * NO_PROXY per origin. A fleet pulls through a shared cache (Squid, nginx
 * proxy_cache) or a P2P layer (Dragonfly's dfdaemon) instead of each replica
 * hitting the bucket or the namenode. The agent modules are loaded only when
 * a proxy applies (they are ES modules, so by import()).
 */
import type { Agent } from 'node:http';
import { ConfigError } from '../errors.js';
import { proxyFromEnv } from '../lazy.js';
import { redactUrl, type OptionSpec } from '../options.js';

export interface AgentOptions {
  readonly keepAlive: boolean;
  readonly maxSockets: number;
}

/**
 * The parsed --proxy: a proxy URL for every request of the remote, `null` for
 * none (not even the environment's), `undefined` to follow the environment.
 */
export type ProxySetting = string | null | undefined;

/** Shared by the HTTP, WebHDFS and S3 sources (allOptions() keeps one copy). */
export const proxyOption = {
  name: 'proxy',
  kind: 'string',
  metavar: 'URL',
  group: 'Fleet',
  help: "HTTP proxy for this remote's requests (a Squid / nginx cache tier, Dragonfly's dfdaemon): http://host:port; 'none' = no proxy, not even HTTP_PROXY; default: HTTP_PROXY / HTTPS_PROXY / NO_PROXY",
} as const satisfies OptionSpec;

/** --proxy (null: not given) → ProxySetting; throws ConfigError naming the flag. No I/O. */
export function parseProxy(text: string | null): ProxySetting {
  const v = text?.trim();
  if (v === undefined || v === '') return undefined;
  if (v.toLowerCase() === 'none') return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch (err) {
    throw new ConfigError('proxy', `not a URL: "${redactUrl(v)}" (want http://host:port, or none)`, { cause: err });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('proxy', `must be an http:// or https:// URL, got ${u.protocol}`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash)
    throw new ConfigError('proxy', 'a proxy URL has no path, query or fragment: http://host:port');
  return u.href.replace(/\/$/, '');
}

/** The proxy the environment gives for `target`, or null (NO_PROXY, or none set). */
export function proxyFor(target: string): string | null {
  return proxyFromEnv().getProxyForUrl(target) || null;
}

/** The proxy requests to `target` go through: the --proxy setting, else the environment's. */
export function resolveProxy(setting: ProxySetting, target: string): string | null {
  return setting === undefined ? proxyFor(target) : setting;
}

/**
 * An agent that reaches `secure` (https) or plain http targets through `proxy`:
 * http:// requests go to the proxy in absolute form, as curl and wget send them
 * (proxies often refuse CONNECT to ports other than 443, and a cache can only
 * store what it sees); https:// through CONNECT.
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

/** Agents for requests to `target`: through the proxy `setting` resolves to, or plain options when none applies. */
export async function agentsFor(
  setting: ProxySetting,
  target: string,
  o: AgentOptions,
): Promise<{ httpAgent: Agent | AgentOptions; httpsAgent: Agent | AgentOptions; proxy: string | null }> {
  const proxy = resolveProxy(setting, target);
  if (!proxy) return { httpAgent: o, httpsAgent: o, proxy: null };
  return { httpAgent: await proxyAgent(proxy, false, o), httpsAgent: await proxyAgent(proxy, true, o), proxy };
}
