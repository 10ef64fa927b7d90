export * from './audit-event.entity';
export * from './backup.entity';
export * from './destination.entity';
export * from './job.entity';
export * from './network.entity';
export * from './node.entity';
export * from './policy.entity';
export * from './restore.entity';
