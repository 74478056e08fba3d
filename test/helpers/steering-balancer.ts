import { createServer, request, type Server } from 'node:http';

/**
 * A stand-in for the load balancer in front of the replicas (Caddy in production, see
 * test/caddy.test.ts): it sends each request to the replica the test names, so the test decides
 * which replica sees which step.
 */
export class SteeringBalancer {
  target = 0;
  private server?: Server;
  constructor(readonly ports: number[]) {}

  async listen(port: number): Promise<void> {
    this.server = createServer((req, res) => {
      const upstream = request(
        { host: '127.0.0.1', port: this.ports[this.target], path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      req.pipe(upstream);
    });
    this.server.keepAliveTimeout = 1;
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
