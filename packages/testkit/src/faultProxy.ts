import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rng } from '@streams/core';
import { checkSigV4 } from './sigV4.js';

/** The faults the proxy injects. */
export type FaultKind =
  | 'http500'
  | 'http503'
  | 'http429'
  | 'slowdown'
  | 'reset'
  | 'truncate'
  | 'stall'
  | 'drip';

export const FAULT_KINDS: readonly FaultKind[] = [
  'http500',
  'http503',
  'http429',
  'slowdown',
  'reset',
  'truncate',
  'stall',
  'drip',
];

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Upstream base URL, e.g. `http://127.0.0.1:9000`. */
  target: string;
  /** Share of requests that get a fault (default 0). */
  rate?: number;
  /** Faults to draw from (default: all of {@link FAULT_KINDS}). */
  kinds?: readonly FaultKind[];
  /** Methods that may be faulted (default GET and HEAD). */
  methods?: readonly string[];
  /** Seed of the fault draws (default 1). */
  seed?: number;
  /** Retry-After sent with 429/503/SlowDown (default "0"). */
  retryAfter?: string;
  /** How long a stalled response hangs before the proxy drops it (default 30 s; clients usually give up first). */
  stallMs?: number;
  /** Pause between drip chunks in ms (default 2). */
  dripDelayMs?: number;
  /**
   * Verify each request's AWS SigV4 signature with these secrets (access key id -> secret) and
   * answer a mismatch as S3 does (403 `SignatureDoesNotMatch`) instead of forwarding it. s3rver
   * itself accepts any v4 signature from a known key.
   */
  verifySigV4?: Readonly<Record<string, string>>;
  /** Overrides the random draw: return a fault for request number `n` (0-based), or undefined for none. */
  plan?: (req: IncomingMessage, n: number) => FaultKind | undefined;
}

/** One request the proxy forwarded or faulted. */
export interface ProxyRecord {
  method: string;
  path: string;
  /** The request headers as the proxy received them. */
  headers: IncomingMessage['headers'];
  fault: FaultKind | undefined;
  /** With `verifySigV4`: whether the signature verified (a mismatch is answered 403, never forwarded). */
  signature?: 'valid' | 'invalid';
}

/** A running fault proxy. */
export interface FaultProxy extends AsyncDisposable {
  /** Base URL of the proxy (no trailing slash), e.g. `http://127.0.0.1:40111`. */
  url: string;
  port: number;
  log: ProxyRecord[];
  /** Faults injected so far, by kind. */
  faults: Record<FaultKind, number>;
  /** Changes the fault rate from now on. */
  setRate(rate: number): void;
  close(): Promise<void>;
}

/**
 * An HTTP reverse proxy on 127.0.0.1 that injects faults between a client and a real server:
 * HTTP 500/503/429, S3 `SlowDown`, connection resets mid-body, truncated bodies (the connection
 * closes before Content-Length bytes), stalls (headers and part of the body, then silence) and
 * slow drip. Draws come from the seeded PRNG. Faulted responses are buffered, so use it with
 * small objects. The Host header is kept, so AWS SigV4 signatures stay valid upstream.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const kinds = options.kinds ?? FAULT_KINDS;
  const methods = options.methods ?? ['GET', 'HEAD'];
  const draws = rng(options.seed ?? 1, 'fault-proxy');
  let rate = options.rate ?? 0;
  const log: ProxyRecord[] = [];
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const timers = new Set<NodeJS.Timeout>();
  let n = 0;

  const server = createServer((req, res) => {
    if (!options.verifySigV4) return handle(req, res);
    req.pause();
    checkSigV4(req, options.verifySigV4).then(
      (check) => {
        if (check.ok) return handle(req, res, 'valid');
        log.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          fault: undefined,
          signature: 'invalid',
        });
        drainThen(req, () =>
          reply(
            res,
            403,
            `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>${check.reason}</Message></Error>`,
            { 'content-type': 'application/xml' },
          ),
        );
      },
      () => res.destroy(),
    );
  });

  function handle(req: IncomingMessage, res: ServerResponse, signature?: 'valid') {
    const index = n++;
    let fault: FaultKind | undefined;
    if (options.plan) fault = options.plan(req, index);
    else if (methods.includes(req.method ?? '') && rate > 0 && draws.float() < rate)
      fault = kinds[draws.int(kinds.length)];
    log.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      fault,
      ...(signature ? { signature } : {}),
    });
    if (fault) faults[fault]++;
    const retryAfter = options.retryAfter ?? '0';
    switch (fault) {
      case 'http500':
        return drainThen(req, () => reply(res, 500, 'injected internal error'));
      case 'http503':
        return drainThen(req, () =>
          reply(res, 503, 'injected unavailable', { 'retry-after': retryAfter }),
        );
      case 'http429':
        return drainThen(req, () =>
          reply(res, 429, 'injected too many requests', { 'retry-after': retryAfter }),
        );
      case 'slowdown':
        return drainThen(req, () =>
          reply(
            res,
            503,
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>',
            { 'retry-after': retryAfter, 'content-type': 'application/xml' },
          ),
        );
      default:
        return forward(req, res, fault);
    }
  }

  function forward(req: IncomingMessage, res: ServerResponse, fault: FaultKind | undefined): void {
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (upRes) => {
        if (!fault) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('error', () => res.destroy());
        upRes.on('end', () => {
          const body = Buffer.concat(chunks);
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          const half = body.subarray(0, Math.floor(body.length / 2));
          if (fault === 'reset') {
            res.write(half, () => res.socket?.resetAndDestroy?.() ?? res.destroy());
          } else if (fault === 'truncate') {
            // A clean close before Content-Length bytes: the client must notice the short body.
            res.write(half, () => res.socket?.end());
          } else if (fault === 'stall') {
            res.write(half);
            const t = setTimeout(() => {
              timers.delete(t);
              res.destroy();
            }, options.stallMs ?? 30_000);
            timers.add(t);
            res.on('close', () => {
              clearTimeout(t);
              timers.delete(t);
            });
          } else drip(res, body);
        });
      },
    );
    up.on('error', () => {
      if (!res.headersSent) reply(res, 502, 'upstream unreachable');
      else res.destroy();
    });
    req.pipe(up);
  }

  function drip(res: ServerResponse, body: Buffer): void {
    let at = 0;
    const step = Math.max(1, Math.ceil(body.length / 16));
    const tick = () => {
      if (res.destroyed) return;
      if (at >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(at, at + step));
      at += step;
      const t = setTimeout(() => {
        timers.delete(t);
        tick();
      }, options.dripDelayMs ?? 2);
      timers.add(t);
    };
    tick();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    server.closeAllConnections();
    agent.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log,
    faults,
    setRate: (r) => {
      rate = r;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function drainThen(req: IncomingMessage, then: () => void): void {
  req.resume();
  req.on('end', then);
}

function reply(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-length': Buffer.byteLength(body),
    'content-type': 'text/plain',
    ...headers,
  });
  res.end(body);
}
