/**
 * The scheduler and several instances: a job remembers the fire it was created for (unique per
 * policy, so each fire becomes one job however many instances see it) and when it may start
 * (retry backoff, maintenance windows); at most one backup job of a policy is queued or running
 * (a partial unique index, so the database refuses the second whichever instance asks); policies
 * get maintenance windows, a webhook and the point their schedule counts from; instances record
 * a heartbeat, so a second process on a SQLite catalog is refused.
 */
import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

export const ACTIVE_BACKUP_WHERE = "kind = 'BACKUP' AND status IN ('QUEUED', 'RUNNING')";

export class Scheduler1764000000000 implements MigrationInterface {
  name = 'Scheduler1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('job', [
      new TableColumn({ name: 'scheduled_for', type: 'varchar', length: '24', isNullable: true }),
      new TableColumn({ name: 'not_before', type: 'varchar', length: '24', isNullable: true }),
    ]);
    await queryRunner.createIndex('job', new TableIndex({ name: 'uq_job_policy_fire', columnNames: ['policy_id', 'scheduled_for'], isUnique: true }));
    await queryRunner.createIndex('job', new TableIndex({ name: 'uq_job_active_backup', columnNames: ['policy_id'], isUnique: true, where: ACTIVE_BACKUP_WHERE }));
    await queryRunner.addColumns('policy', [
      new TableColumn({ name: 'schedule_from', type: 'varchar', length: '24', isNullable: true }),
      new TableColumn({ name: 'maintenance_windows', type: 'text', isNullable: true }),
      new TableColumn({ name: 'webhook', type: 'text', isNullable: true }),
    ]);
    await queryRunner.createTable(
      new Table({
        name: 'instance',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true, primaryKeyConstraintName: 'pk_instance' },
          { name: 'host', type: 'varchar', length: '255' },
          { name: 'pid', type: 'integer' },
          { name: 'started_at', type: 'varchar', length: '24' },
          { name: 'heartbeat_at', type: 'varchar', length: '24' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('instance');
    await queryRunner.dropColumns('policy', ['schedule_from', 'maintenance_windows', 'webhook']);
    await queryRunner.dropIndex('job', 'uq_job_active_backup');
    await queryRunner.dropIndex('job', 'uq_job_policy_fire');
    await queryRunner.dropColumns('job', ['scheduled_for', 'not_before']);
  }
}
