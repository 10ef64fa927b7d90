/**
 * Column helpers that read and write the same way on SQLite and PostgreSQL, so one set of
 * entities and migrations serves both catalogs.
 */
import { Column, DeleteDateColumn, type ColumnOptions, type ValueTransformer } from 'typeorm';

/**
 * Timestamps are stored as ISO-8601 UTC text (`2026-11-21T08:00:00.000Z`): identical on both
 * databases, readable by an operator in psql or sqlite3, and ordered correctly as text.
 */
const isoTimestamp: ValueTransformer = {
  to: (value: Date | null | undefined) => (value instanceof Date ? value.toISOString() : value ?? null),
  from: (value: string | null) => (value === null || value === undefined ? null : new Date(value)),
};

export function TimestampColumn(options: Pick<ColumnOptions, 'name' | 'nullable'> = {}): PropertyDecorator {
  return Column({ type: 'varchar', length: 24, transformer: isoTimestamp, ...options });
}

/**
 * When a row was retired. TypeORM leaves retired rows out of every find; what must still reach
 * them (the source node of a backup being restored) asks with `withDeleted`.
 */
export function RetiredAtColumn(): PropertyDecorator {
  return DeleteDateColumn({ name: 'deleted_at', type: 'varchar', length: 24, nullable: true, transformer: isoTimestamp });
}

/** PostgreSQL returns bigint as a string; sizes here stay far below 2^53. */
const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value ?? null,
  from: (value: string | number | null) => (value === null || value === undefined ? null : Number(value)),
};

export function BigIntColumn(options: Pick<ColumnOptions, 'name' | 'nullable' | 'default'> = {}): PropertyDecorator {
  return Column({ type: 'bigint', transformer: bigintNumber, ...options });
}

export function JsonColumn(options: Pick<ColumnOptions, 'name' | 'nullable'> = {}): PropertyDecorator {
  return Column({ type: 'simple-json', ...options });
}

export function IdColumn(options: Pick<ColumnOptions, 'name' | 'nullable'> = {}): PropertyDecorator {
  return Column({ type: 'varchar', length: 36, ...options });
}

/**
 * A JSON object column's TypeScript type. Its shape is checked by whoever writes it (a plugin
 * schema, a service); `any` values keep TypeORM's partial-entity types usable on it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonMap = Record<string, any>;
