import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface StubServer {
  url: string;
  close(): Promise<void>;
}

export type StubHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

/** A loopback HTTP server for standing in for an external service in tests and benchmarks. */
export async function startStubServer(handler: StubHandler): Promise<StubServer> {
  const server = createServer((req, res) => {
    // No keep-alive: workerd would reuse a connection the stub is closing ("Network connection lost").
    res.setHeader('connection', 'close');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'))).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
