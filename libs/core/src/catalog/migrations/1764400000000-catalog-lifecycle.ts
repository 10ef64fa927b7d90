/**
 * Deleted networks, nodes and policies stay as retired rows (deleted_at set, name freed), so
 * the backups taken of them stay listed and restorable. A plain ADD COLUMN: on SQLite, TypeORM's
 * addColumn would copy the table, and dropping the old copy would cascade to the backups.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

const TABLES = ['network', 'node', 'policy'];

export class CatalogLifecycle1764400000000 implements MigrationInterface {
  name = 'CatalogLifecycle1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of TABLES) await queryRunner.query(`ALTER TABLE "${table}" ADD COLUMN "deleted_at" varchar(24)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of TABLES) await queryRunner.query(`ALTER TABLE "${table}" DROP COLUMN "deleted_at"`);
  }
}
