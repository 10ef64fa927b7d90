import { registerEnumType } from '@nestjs/graphql';
import { BackupStatus, DestinationKind, JobKind, JobStatus, PluginStatus, RestoreStatus, SchedulePreset, VerificationState } from '@chainvault/core';

registerEnumType(BackupStatus, { name: 'BackupStatus' });
registerEnumType(DestinationKind, { name: 'DestinationKind' });
registerEnumType(JobKind, { name: 'JobKind' });
registerEnumType(JobStatus, { name: 'JobStatus' });
registerEnumType(PluginStatus, { name: 'PluginStatus' });
registerEnumType(RestoreStatus, { name: 'RestoreStatus' });
registerEnumType(SchedulePreset, { name: 'SchedulePreset' });
registerEnumType(VerificationState, { name: 'VerificationState' });

export { BackupStatus, DestinationKind, JobKind, JobStatus, PluginStatus, RestoreStatus, SchedulePreset, VerificationState };
