import { registerEnumType } from '@nestjs/graphql';
import { ApiRole, BackupStatus, DestinationKind, JobKind, JobStatus, PluginStatus, RestoreStatus, SchedulePreset, VerificationState } from '@chainvault/core';

registerEnumType(BackupStatus, { name: 'BackupStatus' });
registerEnumType(DestinationKind, { name: 'DestinationKind' });
registerEnumType(JobKind, { name: 'JobKind' });
registerEnumType(JobStatus, { name: 'JobStatus' });
registerEnumType(PluginStatus, { name: 'PluginStatus' });
registerEnumType(RestoreStatus, { name: 'RestoreStatus' });
registerEnumType(SchedulePreset, { name: 'SchedulePreset' });
registerEnumType(VerificationState, { name: 'VerificationState' });

registerEnumType(ApiRole, { name: 'ApiRole', description: 'VIEWER reads; OPERATOR also runs, restores and manages nodes and policies; ADMIN also manages plugins, destinations, tokens and the audit log.' });

export { ApiRole, BackupStatus, DestinationKind, JobKind, JobStatus, PluginStatus, RestoreStatus, SchedulePreset, VerificationState };
