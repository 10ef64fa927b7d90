/** Restore templates: a named set of target nodes and restore options, reused for many restores. */
import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

export class RestoreTemplates1764300000000 implements MigrationInterface {
  name = 'RestoreTemplates1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'restore_template',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true, primaryKeyConstraintName: 'pk_restore_template' },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'description', type: 'text', isNullable: true },
          { name: 'plugin_id', type: 'varchar', length: '64' },
          { name: 'target_node_ids', type: 'text' },
          { name: 'options', type: 'text' },
          { name: 'created_at', type: 'varchar', length: '24' },
          { name: 'created_by', type: 'varchar', length: '200' },
        ],
        uniques: [{ name: 'uq_restore_template_name', columnNames: ['name'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('restore_template');
  }
}
