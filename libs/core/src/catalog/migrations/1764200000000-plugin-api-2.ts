/**
 * Plugin API 2.0: a backup depends on any number of earlier ones and may be PARTIAL with a
 * per-node report; a job keeps what a disruptive run saved for its cleanup, and a CANCELLING
 * job still counts as the policy's active run; a restore may target several nodes.
 */
import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

const ACTIVE_BEFORE = "kind = 'BACKUP' AND status IN ('QUEUED', 'RUNNING')";
const ACTIVE_NOW = "kind = 'BACKUP' AND status IN ('QUEUED', 'RUNNING', 'CANCELLING')";

export class PluginApi21764200000000 implements MigrationInterface {
  name = 'PluginApi21764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('backup', [
      new TableColumn({ name: 'depends_on_ids', type: 'text', isNullable: true }),
      new TableColumn({ name: 'report', type: 'text', isNullable: true }),
    ]);
    // Every earlier single dependency becomes a list of one.
    await queryRunner.query(`UPDATE backup SET depends_on_ids = '["' || depends_on_id || '"]' WHERE depends_on_id IS NOT NULL`);
    await queryRunner.query(`UPDATE backup SET depends_on_ids = '[]' WHERE depends_on_id IS NULL`);
    await queryRunner.addColumn('job', new TableColumn({ name: 'plugin_state', type: 'text', isNullable: true }));
    await queryRunner.addColumn('restore', new TableColumn({ name: 'target_node_ids', type: 'text', isNullable: true }));
    await queryRunner.dropIndex('job', 'uq_job_active_backup');
    await queryRunner.createIndex('job', new TableIndex({ name: 'uq_job_active_backup', columnNames: ['policy_id'], isUnique: true, where: ACTIVE_NOW }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('job', 'uq_job_active_backup');
    await queryRunner.createIndex('job', new TableIndex({ name: 'uq_job_active_backup', columnNames: ['policy_id'], isUnique: true, where: ACTIVE_BEFORE }));
    await queryRunner.dropColumn('restore', 'target_node_ids');
    await queryRunner.dropColumn('job', 'plugin_state');
    await queryRunner.dropColumns('backup', ['depends_on_ids', 'report']);
  }
}
