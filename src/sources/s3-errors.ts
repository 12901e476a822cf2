/** S3 SDK errors → the shared error set, at the source's own boundary (rclone's sentinels). */
import { abortReason, AuthError, isTransientNetworkError, MonitorError, NotFoundError, RemoteError, TransientError } from '../errors.js';

// error `name`s (the S3 XML Code); HEAD answers have no body, so there the status decides
const AUTH_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'CredentialsProviderError',
]);
// RequestTimeTooSkewed (403): the SDK corrects its clock offset from the answer, so a retry heals it
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'TimeoutError',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
]);

interface SdkError {
  readonly name?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** SDK error → the shared set, by `name` and `$metadata.httpStatusCode`, never by message. */
export function mapS3Error(err: unknown, what: string, bucket: string, signal: AbortSignal): MonitorError {
  if (err instanceof MonitorError) return err;
  if (signal.aborted) return abortReason(signal);
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const label = name && name !== 'Error' ? name : (e.code ?? (status ? `HTTP ${status}` : 'network error'));
  const transient =
    TRANSIENT_NAMES.has(name) ||
    (status !== undefined && (status >= 500 || status === 429)) ||
    isTransientNetworkError(err) ||
    (status === undefined && e.code === 'ENOTFOUND');
  if (transient) return new TransientError(`${what}: S3 bucket ${bucket} unavailable (${label})`, { cause: err });
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) {
    const msg = `${what}: access to bucket ${bucket} refused (${label}); check AWS credentials and policy`;
    return new AuthError(msg, { cause: err });
  }
  if (name === 'NoSuchBucket') return new RemoteError(`no such bucket: ${bucket}`, { cause: err });
  if (name === 'NoSuchKey' || name === 'NotFound') {
    return new NotFoundError(`${what}: not found in bucket ${bucket}`, { cause: err });
  }
  if (name === 'PermanentRedirect' || status === 301) {
    return new RemoteError(`bucket ${bucket} is in another region: set --s3-region`, { cause: err });
  }
  return new RemoteError(`${what}: S3 refused (${label}) for bucket ${bucket}`, { cause: err });
}
