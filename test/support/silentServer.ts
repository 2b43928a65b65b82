import { createServer, type Server, type Socket } from 'node:net';

/** A server on 127.0.0.1:`port` that accepts connections and never says a word (an agent port taken
 * by something unrelated); `sockets` are the connections it accepted, to close them. */
export function silentServer(port: number): Promise<{ server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => { sockets.push(socket); });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, sockets }));
  });
}
