/**
 * Query parameters that carry signatures or tokens in presigned URLs (S3 SigV2/V4, GCS, Azure
 * SAS), and the `Credential=`/`Signature=` parts of a SigV4 `Authorization` header.
 */
const SECRET_PARAMS =
  /^(x-amz-(signature|credential|security-token)|x-goog-(signature|credential)|signature|credential|sig|token|access_token|awsaccesskeyid|key|api_key|apikey|se|sp|sv|skoid|sktid)$/i;
const PARAM_NAMES =
  'x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|signature|credential|sig|token|access_token|awsaccesskeyid|key|api_key|apikey|se|sp|sv|skoid|sktid';
/** Request headers that carry credentials. */
const HEADER_NAMES =
  'authorization|proxy-authorization|cookie|set-cookie|x-amz-security-token|x-goog-api-key|x-api-key|api-key|x-auth-token|x-access-token';
/** XML elements of S3-style error bodies that echo what the request was signed with. */
const XML_NAMES =
  'SignatureProvided|AWSAccessKeyId|AccessKeyId|SecretAccessKey|SessionToken|SecurityToken|Token';

const URLS = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`<>)]+/gi;
/** `name: value` header lines (value to the end of the line) and `"name": "value"` JSON fields. */
const HEADERS = new RegExp(
  `(^|[^\\w-])(${HEADER_NAMES})(["']?[ \\t]*:[ \\t]*)("(?:[^"\\\\\\r\\n]|\\\\.)*"|'[^'\\r\\n]*'|[^\\r\\n]*)`,
  'gim',
);
/** `name=value` query or header parameters, `name="value"` and `"name": "value"` fields. */
const PARAMS = new RegExp(
  `(^|[^\\w-])(${PARAM_NAMES})(["']?[ \\t]*[:=][ \\t]*)("(?:[^"\\\\\\r\\n]|\\\\.)*"|'[^'\\r\\n]*'|[^&\\s"'<>,;)}\\]]*)`,
  'gi',
);
const TOKENS = /\b(Bearer|Basic)([ \t]+)[A-Za-z0-9._~+/=-]+/g;
const XML = new RegExp(`<(${XML_NAMES})>[^<]*</\\1>`, 'g');

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

/**
 * Redacts free text such as an error message or a server's error body (which may echo the
 * request): URLs as {@link redactUrl} does, secret query parameters of bare paths
 * (`/key?X-Amz-Signature=...`), credential headers (`Authorization: ...`, also as JSON fields),
 * `Bearer`/`Basic` tokens, and the signature and key elements of S3 error XML.
 */
export function redactText(text: string): string {
  return text
    .replace(URLS, (m) => redactUrl(m))
    .replace(HEADERS, (m, pre: string, name: string, sep: string, value: string) =>
      value === '' || value.startsWith('***') ? m : `${pre}${name}${sep}${masked(value)}`,
    )
    .replace(PARAMS, (m, pre: string, name: string, sep: string, value: string) =>
      value === '' || value === '***' ? m : `${pre}${name}${sep}${masked(value)}`,
    )
    .replace(TOKENS, '$1$2***')
    .replace(XML, '<$1>***</$1>');
}

/** `***`, inside the value's quotes when it had some. */
function masked(value: string): string {
  const q = value[0];
  return (q === '"' || q === "'") && value.length >= 2 && value.endsWith(q) ? `${q}***${q}` : '***';
}
