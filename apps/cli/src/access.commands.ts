/** `chainvault tokens …` and `chainvault audit …`: API tokens and the audit log (ADMIN). */
import type { Command } from 'commander';
import { CliError, type ApiClient } from './api-client';

export interface CommandKit {
  api: () => ApiClient;
  show: (value: unknown, human: () => string[]) => void;
}

const TOKEN_FIELDS = 'id name role createdAt createdBy expiresAt revokedAt lastUsedAt';

/** `30d`, `12h`, `90m` from now, or an ISO-8601 time. */
export function expiryTime(text: string, now = new Date()): string {
  const relative = /^(\d+)([dhm])$/.exec(text.trim());
  if (relative) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    return new Date(now.getTime() + Number(relative[1]) * unit).toISOString();
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new CliError(`--expires takes 30d, 12h, 90m or an ISO-8601 time; got "${text}"`);
  return time.toISOString();
}

export function addAccessCommands(program: Command, { api, show }: CommandKit): void {
  const tokens = program.command('tokens').description('API tokens (ADMIN)');
  tokens.command('list').action(async () => {
    const { tokens: list } = await api().request(`{ tokens { ${TOKEN_FIELDS} } }`);
    show(list, () =>
      list.map(
        (t: any) =>
          `${t.name.padEnd(20)} ${t.role.padEnd(8)} ${t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry'}  last used ${t.lastUsedAt ?? 'never'}`,
      ),
    );
  });
  tokens
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--role <role>', 'VIEWER, OPERATOR or ADMIN')
    .option('--expires <when>', '30d, 12h, 90m or an ISO-8601 time')
    .action(async (options: { name: string; role: string; expires?: string }) => {
      const input = { name: options.name, role: options.role.toUpperCase(), ...(options.expires ? { expiresAt: expiryTime(options.expires) } : {}) };
      const { createToken } = await api().request(`mutation ($input: CreateTokenInput!) { createToken(input: $input) { secret token { ${TOKEN_FIELDS} } } }`, { input });
      show(createToken, () => [createToken.secret, `token "${createToken.token.name}" (${createToken.token.role}): the line above is shown only now; keep it, the server keeps only its hash`]);
    });
  tokens.command('revoke <token>').description('by name or id').action(async (ref: string) => {
    const { revokeToken } = await api().request(`mutation ($id: ID!) { revokeToken(id: $id) { ${TOKEN_FIELDS} } }`, { id: ref });
    show(revokeToken, () => [`token "${revokeToken.name}" revoked at ${revokeToken.revokedAt}`]);
  });

  const audit = program.command('audit').description('the audit log (ADMIN)');
  audit
    .command('list')
    .option('--action <action>', 'e.g. api.restoreBackup, auth.refused')
    .option('--actor <token name>')
    .option('--outcome <outcome>', 'ok, failed or refused')
    .option('--limit <n>', 'events to show, newest first', '50')
    .action(async (options: { action?: string; actor?: string; outcome?: string; limit: string }) => {
      const first = Number(options.limit);
      if (!Number.isInteger(first) || first < 1 || first > 500) throw new CliError(`--limit takes 1 to 500, got "${options.limit}"`);
      const filter = { action: options.action, actor: options.actor, outcome: options.outcome };
      const { auditEvents } = await api().request(
        `query ($filter: AuditEventFilter, $first: Int) { auditEvents(filter: $filter, first: $first) { nodes { id at actor action subjectType subjectId outcome remoteAddress details } } }`,
        { filter, first },
      );
      const events = auditEvents.nodes;
      show(events, () => events.map((e: any) => `${e.at}  ${e.actor.padEnd(16)} ${e.action.padEnd(28)} ${(e.outcome ?? '').padEnd(8)} ${e.remoteAddress ?? ''}${e.subjectId ? `  ${e.subjectType} ${e.subjectId}` : ''}`));
    });
}
