/**
 * The AWS SDK and one S3 client for a remote's options, shared by the S3
 * source and the publish writer: the region chain, --s3-endpoint and
 * path-style, --s3-unsigned, the proxy (--proxy or the environment's), the
 * per-request timeouts, and `Cache-Control: no-cache` on every request.
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { Logger } from '../log.js';
import { redactUrl } from '../options.js';
import { agentsFor } from './proxy.js';
import type { S3Options } from './s3.js';
import { addNoCache, unsignedConfig } from './s3-requests.js';
import type { SourceDeps } from './types.js';

/** The AWS SDK is loaded on first use: its import costs ~0.7 s, which no other source should pay. */
export type Sdk = typeof import('@aws-sdk/client-s3');

/**
 * On Node 20 every S3 client warns that the SDK's releases after the first week
 * of January 2027 will need Node 22. model-monitor supports Node >= 20.18 and
 * its lockfile pins an SDK that runs there, so that one warning is noise for
 * its users: it is switched off with the SDK's own switch, unless the user set
 * that switch themselves (`=false` shows it again). No other warning is touched.
 */
export function quietNodeVersionWarning(env: NodeJS.ProcessEnv): void {
  env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
}

const loadSdk = (): Promise<Sdk> => {
  quietNodeVersionWarning(process.env);
  return import('@aws-sdk/client-s3');
};

/** The URL the SDK sends requests to, for the proxy lookup (NO_PROXY matches its host). */
export function endpointOf(o: S3Options): string {
  return o.endpoint ?? `https://${o.forcePathStyle ? '' : `${o.bucket}.`}s3.${o.region ?? 'us-east-1'}.amazonaws.com`;
}

/** The SDK's region chain (env, profile), falling back to us-east-1 as the AWS CLI does for S3. */
function regionFromChain(): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () =>
    (cached ??= (async () => {
      const probe = new (await loadSdk()).S3Client({});
      try {
        return await probe.config.region();
      } catch {
        return 'us-east-1';
      } finally {
        probe.destroy();
      }
    })());
}

export interface S3Handle {
  /** The SDK and the client, loaded on the first call. */
  ready(): Promise<{ sdk: Sdk; client: S3Client }>;
  /** Destroys the client if one was made. */
  close(): Promise<void>;
}

/** The SDK and a client for `opts`; nothing is loaded or connected before the first ready(). */
export function s3Client(opts: S3Options, deps: SourceDeps, log: Logger): S3Handle {
  const t = deps.timeoutMs;
  const clientConfig: S3ClientConfig = {
    region: opts.region ?? regionFromChain(),
    ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle,
    maxAttempts: 1, // remoteOp() retries, with backoff and logging
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(opts.unsigned ? unsignedConfig() : {}),
    // options object, not `new NodeHttpHandler()`: @smithy/node-http-handler is not our direct dependency
    requestHandler: {
      connectionTimeout: t,
      requestTimeout: t, // until the response headers
      throwOnRequestTimeout: true,
      socketTimeout: t, // idle socket, including mid-body stalls
    },
  };
  /** The client config with agents for --proxy or the environment's proxy, if one applies to the endpoint. */
  const withAgents = async (): Promise<S3ClientConfig> => {
    const { httpAgent, httpsAgent, proxy } = await agentsFor(opts.proxy, endpointOf(opts), { keepAlive: true, maxSockets: Math.max(deps.concurrency * 2, 8) });
    if (proxy) log.info({ event: 'proxy', proxy: redactUrl(proxy) }, 'S3 requests go through a proxy');
    return { ...clientConfig, requestHandler: { ...(clientConfig.requestHandler as object), httpAgent, httpsAgent } };
  };
  let made: Promise<{ sdk: Sdk; client: S3Client }> | null = null;
  const ready = () =>
    (made ??= Promise.all([loadSdk(), withAgents()]).then(([sdk, config]) => {
      const client = new sdk.S3Client(config);
      addNoCache(client); // a cache on the way revalidates polls, listings and objects with the origin
      return { sdk, client };
    }));
  return { ready, close: async () => void (made && (await made).client.destroy()) };
}
