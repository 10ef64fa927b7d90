/**
 * API tokens: named, with a role, stored as a SHA-256 of the token, expiring optionally,
 * revocable, with their last use. The audit log gains the remote address and the outcome.
 */
import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

export class ApiTokens1764100000000 implements MigrationInterface {
  name = 'ApiTokens1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'api_token',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true, primaryKeyConstraintName: 'pk_api_token' },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'token_hash', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'varchar', length: '24' },
          { name: 'created_by', type: 'varchar', length: '200' },
          { name: 'expires_at', type: 'varchar', length: '24', isNullable: true },
          { name: 'revoked_at', type: 'varchar', length: '24', isNullable: true },
          { name: 'last_used_at', type: 'varchar', length: '24', isNullable: true },
        ],
        uniques: [{ name: 'uq_api_token_name', columnNames: ['name'] }],
        indices: [{ name: 'uq_api_token_hash', columnNames: ['token_hash'], isUnique: true }],
      }),
    );
    await queryRunner.addColumns('audit_event', [
      new TableColumn({ name: 'remote_address', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'outcome', type: 'varchar', length: '16', isNullable: true }),
    ]);
    await queryRunner.createIndex('audit_event', new TableIndex({ name: 'ix_audit_event_action', columnNames: ['action'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('audit_event', 'ix_audit_event_action');
    await queryRunner.dropColumns('audit_event', ['remote_address', 'outcome']);
    await queryRunner.dropTable('api_token');
  }
}
