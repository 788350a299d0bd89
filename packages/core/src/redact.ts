/** Query parameters that carry signatures or tokens in presigned URLs (S3 SigV2/V4, GCS, Azure SAS). */
const SECRET_PARAMS =
  /^(x-amz-(signature|credential|security-token)|x-goog-(signature|credential)|signature|sig|token|access_token|awsaccesskeyid|key|api_key|apikey|se|sp|sv|skoid|sktid)$/i;

/**
 * Returns `url` with user info and secret query parameters replaced by `***`.
 * Strings that are not URLs are returned unchanged.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.username || parsed.password) {
    parsed.username = parsed.username ? '***' : '';
    parsed.password = parsed.password ? '***' : '';
  }
  let changed = false;
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(name)) {
      parsed.searchParams.set(name, '***');
      changed = true;
    }
  }
  const out = parsed.toString();
  return changed ? out.replaceAll('%2A%2A%2A', '***') : out;
}
