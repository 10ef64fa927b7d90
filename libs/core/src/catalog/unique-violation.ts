/** Whether a failed insert or update broke a unique index, on SQLite or PostgreSQL, and which one. */
import { QueryFailedError } from 'typeorm';

export function uniqueViolation(error: unknown): string | null {
  if (!(error instanceof QueryFailedError)) return null;
  const driver = (error as QueryFailedError & { driverError?: { code?: string; constraint?: string; message?: string } }).driverError ?? {};
  if (driver.code === '23505') return driver.constraint ?? 'unique';
  if (driver.code === 'SQLITE_CONSTRAINT' && /UNIQUE constraint failed/.test(driver.message ?? '')) return driver.message!.replace(/^.*UNIQUE constraint failed: /, '');
  return null;
}
