/** Where each backup has been copied besides its primary destination. */
import { Table, TableForeignKey, TableUnique, type MigrationInterface, type QueryRunner } from 'typeorm';

export class BackupReplication1763900000000 implements MigrationInterface {
  name = 'BackupReplication1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'backup_replica',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true, primaryKeyConstraintName: 'pk_backup_replica' },
          { name: 'backup_id', type: 'varchar', length: '36' },
          { name: 'destination_id', type: 'varchar', length: '36' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'updated_at', type: 'varchar', length: '24' },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'bytes_sent', type: 'bigint', isNullable: true },
        ],
        uniques: [new TableUnique({ name: 'uq_backup_replica_destination', columnNames: ['backup_id', 'destination_id'] })],
        foreignKeys: [
          new TableForeignKey({ name: 'fk_backup_replica_backup_id', columnNames: ['backup_id'], referencedTableName: 'backup', referencedColumnNames: ['id'], onDelete: 'CASCADE' }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('backup_replica');
  }
}
