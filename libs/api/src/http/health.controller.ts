/** GET /health: answers 200 when the catalog answers, with what an operator checks first. */
import { Controller, Get, HttpCode, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { CHAINVAULT_CONFIG, PluginRegistry, PluginStatus, catalogKind, type ChainvaultConfig } from '@chainvault/core';
import { DataSource } from 'typeorm';

@Controller('health')
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly plugins: PluginRegistry,
    @Inject(CHAINVAULT_CONFIG) private readonly config: ChainvaultConfig,
  ) {}

  @Get()
  @HttpCode(200)
  async health(): Promise<Record<string, unknown>> {
    const plugins = this.plugins.list();
    const body = {
      catalog: catalogKind(this.config),
      plugins: {
        loaded: plugins.filter((p) => p.status === PluginStatus.LOADED).length,
        degraded: plugins.filter((p) => p.status === PluginStatus.DEGRADED).length,
        failed: plugins.filter((p) => p.status === PluginStatus.FAILED).length,
      },
    };
    try {
      await this.dataSource.query('SELECT 1');
    } catch (error) {
      throw new HttpException({ status: 'unavailable', ...body, error: `the catalog does not answer: ${(error as Error).message}` }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'ok', ...body };
  }
}
