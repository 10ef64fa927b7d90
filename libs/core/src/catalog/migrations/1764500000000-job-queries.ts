/**
 * Jobs listed a page at a time: an index in the list's own order (newest first, then by id), so
 * a page of 100 reads 100 rows whatever the number of jobs, and one on the backup a job works on,
 * for the jobs of a node's backups.
 */
import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

export class JobQueries1764500000000 implements MigrationInterface {
  name = 'JobQueries1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex('job', new TableIndex({ name: 'ix_job_created', columnNames: ['created_at', 'id'] }));
    await queryRunner.createIndex('job', new TableIndex({ name: 'ix_job_backup', columnNames: ['backup_id'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('job', 'ix_job_backup');
    await queryRunner.dropIndex('job', 'ix_job_created');
  }
}
