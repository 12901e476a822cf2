declare module 'proxy-from-env' {
  /** The proxy URL for `url` from HTTP(S)_PROXY / NO_PROXY, or '' for none. */
  export function getProxyForUrl(url: string | URL, options?: { env?: Record<string, string | undefined> }): string;
}
