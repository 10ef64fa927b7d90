/**
 * An optional second listener (`metricsListen`) that serves only GET /metrics, without a
 * token, for a Prometheus that cannot send one. Host and Origin are checked as on the API.
 */
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CHAINVAULT_CONFIG, EXPOSITION_CONTENT_TYPE, MetricsService, parseListenAddress, type ChainvaultConfig } from '@chainvault/core';
import { createServer, type Server } from 'node:http';
import { RequestOriginPolicy } from '../security/request-origin';

@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('metrics');
  private server: Server | null = null;

  constructor(
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.metricsListen) return;
    const { host, port } = parseListenAddress(this.config.metricsListen);
    const origins = new RequestOriginPolicy({ host, publicUrl: this.config.publicUrl, allowedHosts: this.config.allowedHosts });
    this.server = createServer((request, response) => {
      const problem = origins.problem(request.headers);
      if (problem) return void response.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${problem}\n`);
      if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') return void response.writeHead(404).end();
      this.metrics.render().then(
        (body) => response.writeHead(200, { 'Content-Type': EXPOSITION_CONTENT_TYPE }).end(body),
        (error: Error) => {
          this.logger.error(`scrape failed: ${error.message}`);
          response.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    this.logger.log(`metrics without a token on http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
