/**
 * The first catalog schema. Written with TypeORM's table API rather than SQL so that the one
 * migration creates the same schema on SQLite and PostgreSQL.
 */
import { Table, TableForeignKey, TableIndex, TableUnique, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';

const id = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: '36', isNullable: nullable });
const str = (name: string, length: number, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: String(length), isNullable: nullable });
const ts = (name: string, nullable = false): TableColumnOptions => str(name, 24, nullable);
const json = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const int = (name: string): TableColumnOptions => ({ name, type: 'integer', isNullable: false });
const bigint = (name: string): TableColumnOptions => ({ name, type: 'bigint', isNullable: false });
const bool = (name: string): TableColumnOptions => ({ name, type: 'boolean', isNullable: false });
const pk = (table: string): TableColumnOptions => ({ ...id('id'), isPrimary: true, primaryKeyConstraintName: `pk_${table}` });

function fk(table: string, column: string, referenced: string): TableForeignKey {
  return new TableForeignKey({
    name: `fk_${table}_${column}`,
    columnNames: [column],
    referencedTableName: referenced,
    referencedColumnNames: ['id'],
    onDelete: 'CASCADE',
  });
}

export class InitialCatalog1763712000000 implements MigrationInterface {
  name = 'InitialCatalog1763712000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'network',
        columns: [pk('network'), str('name', 200), str('protocol', 64), json('labels'), ts('created_at')],
        uniques: [new TableUnique({ name: 'uq_network_name', columnNames: ['name'] })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'node',
        columns: [pk('node'), id('network_id'), str('name', 200), str('plugin_id', 64), str('role', 64), json('config'), text('secrets', true), ts('created_at')],
        uniques: [new TableUnique({ name: 'uq_node_network_name', columnNames: ['network_id', 'name'] })],
        foreignKeys: [fk('node', 'network_id', 'network')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'destination',
        columns: [pk('destination'), str('name', 200), str('kind', 16), json('config'), ts('created_at')],
        uniques: [new TableUnique({ name: 'uq_destination_name', columnNames: ['name'] })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'policy',
        columns: [
          pk('policy'),
          str('name', 200),
          id('network_id'),
          id('node_id', true),
          str('plugin_id', 64),
          str('method', 64),
          json('options'),
          json('schedule', true),
          json('destination_ids'),
          json('retention'),
          bool('enabled'),
          ts('created_at'),
        ],
        uniques: [new TableUnique({ name: 'uq_policy_name', columnNames: ['name'] })],
        foreignKeys: [fk('policy', 'network_id', 'network'), fk('policy', 'node_id', 'node')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'backup',
        columns: [
          pk('backup'),
          id('policy_id'),
          id('network_id'),
          id('node_id', true),
          str('plugin_id', 64),
          str('method', 64),
          str('status', 16),
          id('destination_id'),
          id('job_id', true),
          ts('started_at'),
          ts('created_at'),
          bigint('logical_bytes'),
          bigint('stored_bytes'),
          bigint('bytes_read'),
          int('file_count'),
          int('files_read'),
          int('files_unchanged'),
          json('metadata'),
          id('depends_on_id', true),
          str('verification', 16),
          ts('verified_at', true),
          json('verification_problems'),
          bool('pinned'),
          ts('deleted_at', true),
        ],
        foreignKeys: [fk('backup', 'policy_id', 'policy')],
        indices: [new TableIndex({ name: 'ix_backup_policy_created', columnNames: ['policy_id', 'created_at'] })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'job',
        columns: [
          pk('job'),
          str('kind', 16),
          str('status', 16),
          id('policy_id', true),
          id('backup_id', true),
          id('restore_id', true),
          json('payload'),
          json('progress', true),
          json('log'),
          text('error', true),
          json('result', true),
          int('attempts'),
          str('lease_owner', 64, true),
          ts('lease_expires_at', true),
          ts('created_at'),
          ts('started_at', true),
          ts('finished_at', true),
        ],
        indices: [new TableIndex({ name: 'ix_job_status_created', columnNames: ['status', 'created_at'] })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'restore',
        columns: [
          pk('restore'),
          id('backup_id'),
          id('target_node_id', true),
          json('target_config', true),
          text('target_secrets', true),
          json('options'),
          str('status', 16),
          json('details', true),
          text('error', true),
          ts('created_at'),
          ts('finished_at', true),
        ],
        foreignKeys: [fk('restore', 'backup_id', 'backup')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'audit_event',
        columns: [pk('audit_event'), ts('at'), str('actor', 200), str('action', 64), str('subject_type', 32), str('subject_id', 36, true), json('details')],
        indices: [new TableIndex({ name: 'ix_audit_event_at', columnNames: ['at'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['audit_event', 'restore', 'job', 'backup', 'policy', 'destination', 'node', 'network']) {
      await queryRunner.dropTable(table);
    }
  }
}
