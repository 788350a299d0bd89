// A `node:http` server of a directory behind the test kit's fault proxy, dripping every answer in
// 16 pieces: the client stays mid-body for 16 x the delay (for kills and chunked bodies).
import {
  type FaultProxy,
  startFaultProxy,
  startHttpServer,
  type TestHttpServer,
} from '@streams/testkit';

/** The server and its dripping proxy; disposing closes both. */
export interface Dripping extends AsyncDisposable {
  server: TestHttpServer;
  proxy: FaultProxy;
}

/** Serves `root`, every answer through the proxy dripped in pieces `dripDelayMs` apart. */
export async function startDripping(root: string, dripDelayMs: number): Promise<Dripping> {
  const server = await startHttpServer({ root });
  try {
    const proxy = await startFaultProxy({
      target: server.url,
      rate: 1,
      kinds: ['drip'],
      dripDelayMs,
    });
    return {
      server,
      proxy,
      async [Symbol.asyncDispose]() {
        await proxy[Symbol.asyncDispose]();
        await server[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    await server[Symbol.asyncDispose]();
    throw e;
  }
}
