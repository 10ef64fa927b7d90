/**
 * What the catalog logs: failed statements with their SQL but never their parameters, which
 * hold token hashes, sealed secrets and configs. TypeORM's own logger prints both.
 */
import { Logger as NestLogger } from '@nestjs/common';
import type { Logger } from 'typeorm';

export class CatalogLogger implements Logger {
  private readonly logger = new NestLogger('catalog');

  logQuery(): void {
    // Statements that succeed are not logged.
  }

  logQueryError(error: string | Error, query: string): void {
    const message = typeof error === 'string' ? error : error.message;
    this.logger.warn(`statement failed: ${message} (${query.replace(/\s+/g, ' ').slice(0, 300)})`);
  }

  logQuerySlow(): void {
    // Slow statements are not logged either.
  }

  logSchemaBuild(): void {
    // The schema is built by migrations, which say nothing unless they fail.
  }

  logMigration(): void {
    // A migration that fails throws; one that succeeds is not news.
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
  }
}
