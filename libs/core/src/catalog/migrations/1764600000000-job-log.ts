/**
 * A job's log as rows of its own (job_log), so that a running job adds its new lines instead of
 * rewriting its whole log twice a second. The lines of every existing job move over, in order.
 */
import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

const BATCH = 100;

interface LogLine {
  at: string;
  level: string;
  message: string;
}

export class JobLog1764600000000 implements MigrationInterface {
  name = 'JobLog1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'job_log',
        columns: [
          { name: 'job_id', type: 'varchar', length: '36', isPrimary: true, primaryKeyConstraintName: 'pk_job_log' },
          { name: 'seq', type: 'integer', isPrimary: true, primaryKeyConstraintName: 'pk_job_log' },
          { name: 'at', type: 'varchar', length: '24' },
          { name: 'level', type: 'varchar', length: '8' },
          { name: 'message', type: 'text' },
        ],
      }),
    );
    for (let offset = 0; ; offset += BATCH) {
      const jobs: { id: string; log: string | null }[] = await queryRunner.query(`SELECT "id", "log" FROM "job" ORDER BY "id" LIMIT ${BATCH} OFFSET ${offset}`);
      for (const job of jobs) {
        const lines = parseLog(job.log);
        for (let i = 0; i < lines.length; i += BATCH) {
          const rows = lines.slice(i, i + BATCH).map((line, k) => [job.id, i + k + 1, String(line.at).slice(0, 24), String(line.level).slice(0, 8), String(line.message)]);
          const values = rows.map((_, r) => `(${[1, 2, 3, 4, 5].map((c) => placeholder(queryRunner, r * 5 + c)).join(', ')})`).join(', ');
          await queryRunner.query(`INSERT INTO "job_log" ("job_id", "seq", "at", "level", "message") VALUES ${values}`, rows.flat());
        }
      }
      if (jobs.length < BATCH) break;
    }
    // A plain DROP COLUMN: on SQLite, TypeORM's dropColumn would copy the table.
    await queryRunner.query(`ALTER TABLE "job" DROP COLUMN "log"`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job" ADD COLUMN "log" text NOT NULL DEFAULT '[]'`);
    const jobIds: { job_id: string }[] = await queryRunner.query(`SELECT DISTINCT "job_id" FROM "job_log"`);
    for (const { job_id } of jobIds) {
      const lines: LogLine[] = await queryRunner.query(`SELECT "at", "level", "message" FROM "job_log" WHERE "job_id" = ${placeholder(queryRunner, 1)} ORDER BY "seq"`, [job_id]);
      const log = JSON.stringify(lines.map((l) => ({ at: l.at, level: l.level, message: l.message })));
      await queryRunner.query(`UPDATE "job" SET "log" = ${placeholder(queryRunner, 1)} WHERE "id" = ${placeholder(queryRunner, 2)}`, [log, job_id]);
    }
    await queryRunner.dropTable('job_log');
  }
}

/** The n-th query parameter (from 1) in the catalog's own syntax. */
function placeholder(queryRunner: QueryRunner, n: number): string {
  return queryRunner.connection.driver.options.type === 'postgres' ? `$${n}` : '?';
}

function parseLog(log: string | null): LogLine[] {
  try {
    const lines: unknown = JSON.parse(log ?? '[]');
    return Array.isArray(lines) ? (lines.filter((l) => l && typeof l === 'object') as LogLine[]) : [];
  } catch {
    return [];
  }
}
