// A TCP proxy on 127.0.0.1 that can turn into a black hole: while `blackHole()` holds, it accepts
// connections and keeps every socket open but passes no byte either way — what a dropped network
// path, a frozen VM or a firewall that discards packets looks like from a client. `restore()` passes
// bytes again (data held meanwhile is discarded, as a network would lose it).
//
//   const proxy = await startFaultProxy(server.port);     // proxy.port forwards to server.port
//   proxy.blackHole(); ... proxy.restore(); ... await proxy.close();
//   const hole = await startFaultProxy(undefined);         // a black hole from the start, no upstream
import { createConnection, createServer, type Socket } from 'node:net';

export interface FaultProxy {
  readonly port: number;
  /** connections accepted so far */
  readonly accepted: number;
  blackHole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(upstreamPort: number | undefined): Promise<FaultProxy> {
  let holed = upstreamPort === undefined;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const server = createServer((client) => {
    accepted++;
    track(client);
    if (upstreamPort === undefined) return; // accept, never answer
    const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
    track(upstream);
    client.on('data', (b) => {
      if (!holed) upstream.write(b);
    });
    upstream.on('data', (b) => {
      if (!holed) client.write(b);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy: no port');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    blackHole() {
      holed = true;
    },
    restore() {
      if (upstreamPort !== undefined) holed = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
