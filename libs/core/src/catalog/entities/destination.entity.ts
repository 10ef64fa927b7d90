import { Column, Entity, Unique, PrimaryColumn } from 'typeorm';
import { JsonColumn, TimestampColumn, type JsonMap } from '../columns';

export enum DestinationKind {
  LOCAL = 'LOCAL',
  S3 = 'S3',
  SFTP = 'SFTP',
}

/** Where backups are written: a repository on a storage backend. */
@Entity('destination')
@Unique('uq_destination_name', ['name'])
export class DestinationEntity {
  @PrimaryColumn({ type: 'varchar', length: 36, primaryKeyConstraintName: 'pk_destination' })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  kind!: DestinationKind;

  /** The config without its secret fields. */
  @JsonColumn()
  config!: JsonMap;

  /** Secret fields (repository passphrase, credentials), sealed with the server's key. */
  @Column({ type: 'text', nullable: true })
  secrets!: string | null;

  @TimestampColumn({ name: 'created_at' })
  createdAt!: Date;
}
