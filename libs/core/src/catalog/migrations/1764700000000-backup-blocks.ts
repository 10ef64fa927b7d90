/**
 * The blocks each backup holds (first_block … last_block), so backups can be filtered by block
 * height in the catalog. Existing backups get theirs from their metadata, as new ones do.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { blockRangeOf } from '../../backups/block-range';

const BATCH = 500;

export class BackupBlocks1764700000000 implements MigrationInterface {
  name = 'BackupBlocks1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Plain ADD COLUMNs: on SQLite, TypeORM's addColumn would copy the table.
    await queryRunner.query(`ALTER TABLE "backup" ADD COLUMN "first_block" bigint`);
    await queryRunner.query(`ALTER TABLE "backup" ADD COLUMN "last_block" bigint`);
    const p = (n: number) => (queryRunner.connection.driver.options.type === 'postgres' ? `$${n}` : '?');
    for (let offset = 0; ; offset += BATCH) {
      const rows: { id: string; metadata: string | null }[] = await queryRunner.query(`SELECT "id", "metadata" FROM "backup" ORDER BY "id" LIMIT ${BATCH} OFFSET ${offset}`);
      for (const row of rows) {
        let metadata: unknown = null;
        try {
          metadata = row.metadata ? JSON.parse(row.metadata) : null;
        } catch {
          metadata = null;
        }
        const range = blockRangeOf(metadata);
        if (range) await queryRunner.query(`UPDATE "backup" SET "first_block" = ${p(1)}, "last_block" = ${p(2)} WHERE "id" = ${p(3)}`, [range.first, range.last, row.id]);
      }
      if (rows.length < BATCH) break;
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "backup" DROP COLUMN "last_block"`);
    await queryRunner.query(`ALTER TABLE "backup" DROP COLUMN "first_block"`);
  }
}
