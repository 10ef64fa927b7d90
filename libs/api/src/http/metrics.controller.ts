/**
 * GET /metrics: the Prometheus text exposition of the catalog, computed at each scrape. A
 * catalog that does not answer fails the scrape (Nest answers 500 and logs why), which
 * Prometheus records as `up == 0`.
 */
import { Controller, Get, Res } from '@nestjs/common';
import { EXPOSITION_CONTENT_TYPE, MetricsService } from '@chainvault/core';
import type { Response } from 'express';

@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /**
   * Written with `end()` rather than returned: Express's `send()` re-formats a text content
   * type to add its charset and reorders the parameters, and the content type is the one
   * Prometheus documents.
   */
  @Get()
  async scrape(@Res() response: Response): Promise<void> {
    const body = await this.metrics.render();
    response.status(200).setHeader('Content-Type', EXPOSITION_CONTENT_TYPE);
    response.end(body);
  }
}
