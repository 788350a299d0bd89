// A `node:http` proxy that holds every request for a fixed delay before forwarding it: the round
// trip of a remote store, on loopback.
import { createServer, request } from 'node:http';

/** A running latency proxy; close it (or `await using` it) when done. */
export interface LatencyProxy extends AsyncDisposable {
  /** Base URL, no trailing slash, e.g. `http://127.0.0.1:40111`. */
  url: string;
  close(): Promise<void>;
}

/** Forwards every request to `target` (a base URL) after `delayMs`. */
export async function startLatencyProxy(target: string, delayMs: number): Promise<LatencyProxy> {
  const base = target.replace(/\/$/, '');
  const proxy = createServer((req, res) => {
    setTimeout(() => {
      const up = request(`${base}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    }, delayMs);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      proxy.closeAllConnections();
      proxy.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
