/** Destinations get sealed secret fields (a repository passphrase, cloud or SSH credentials). */
import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

export class DestinationSecrets1763800000000 implements MigrationInterface {
  name = 'DestinationSecrets1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('destination', new TableColumn({ name: 'secrets', type: 'text', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('destination', 'secrets');
  }
}
