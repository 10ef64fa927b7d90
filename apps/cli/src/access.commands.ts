/** `chainvault tokens …` and `chainvault audit …`: API tokens and the audit log (ADMIN). */
import type { Command } from 'commander';
import { CliError } from './api-client';
import { wholeNumber } from './cli-input';
import { example, type CommandKit } from './command-kit';

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

/** Audit events asked for per request: the server's page size limit. */
const AUDIT_PAGE = 500;

export function addAccessCommands(program: Command, { api, show }: Pick<CommandKit, 'api' | 'show'>): void {
  const tokens = example(program.command('tokens').description('API tokens (ADMIN): who may read, operate or administer the server'), 'tokens list');
  example(tokens.command('list').description('every token with its role, expiry and last use (never its secret)'), 'tokens list').action(async () => {
    const { tokens: list } = await api().request(`{ tokens { ${TOKEN_FIELDS} } }`);
    show(list, () =>
      list.map(
        (t: any) =>
          `${t.name.padEnd(20)} ${t.role.padEnd(8)} ${t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry'}  last used ${t.lastUsedAt ?? 'never'}`,
      ),
    );
  });
  example(
    tokens
      .command('create')
      .description('make a token; its secret is printed once, on the first line, and never again')
      .requiredOption('--name <name>', 'a name unique among tokens, shown in the audit log')
      .requiredOption('--role <role>', 'VIEWER, OPERATOR or ADMIN')
      .option('--expires <when>', '30d, 12h, 90m or an ISO-8601 time'),
    'tokens create --name ci-reader --role viewer --expires 30d',
  ).action(async (options: { name: string; role: string; expires?: string }) => {
    const input = { name: options.name, role: options.role.toUpperCase(), ...(options.expires ? { expiresAt: expiryTime(options.expires) } : {}) };
    const { createToken } = await api().request(`mutation ($input: CreateTokenInput!) { createToken(input: $input) { secret token { ${TOKEN_FIELDS} } } }`, { input });
    show(createToken, () => [createToken.secret, `token "${createToken.token.name}" (${createToken.token.role}): the line above is shown only now; keep it, the server keeps only its hash`]);
  });
  example(tokens.command('revoke <token>').description('revoke a token (name or id) at once'), 'tokens revoke ci-reader').action(async (ref: string) => {
    const { revokeToken } = await api().request(`mutation ($id: ID!) { revokeToken(id: $id) { ${TOKEN_FIELDS} } }`, { id: ref });
    show(revokeToken, () => [`token "${revokeToken.name}" revoked at ${revokeToken.revokedAt}`]);
  });

  const audit = example(program.command('audit').description('the audit log (ADMIN): every change and every refusal, by whom'), 'audit list');
  example(
    audit
      .command('list')
      .description('audit events, newest first')
      .option('--action <action>', 'e.g. api.restoreBackup, auth.refused, policy.update')
      .option('--actor <token name>', 'only what this token did')
      .option('--outcome <outcome>', 'ok, failed or refused')
      .option('--first <n>', 'events to show (default 50)', wholeNumber(1))
      .option('--limit <n>', 'the same as --first', wholeNumber(1)),
    'audit list --action policy.update --first 20',
    'audit list --actor ci-reader --outcome refused',
  ).action(async (options: { action?: string; actor?: string; outcome?: string; first?: number; limit?: number }) => {
    const wanted = options.first ?? options.limit ?? 50;
    const filter = { action: options.action, actor: options.actor, outcome: options.outcome };
    const events: any[] = [];
    let after: string | undefined;
    for (;;) {
      const { auditEvents } = await api().request(
        `query ($filter: AuditEventFilter, $first: Int, $after: String) { auditEvents(filter: $filter, first: $first, after: $after) { nodes { id at actor action subjectType subjectId outcome remoteAddress details } pageInfo { endCursor hasNextPage } } }`,
        { filter, first: Math.min(AUDIT_PAGE, wanted - events.length), after },
      );
      events.push(...auditEvents.nodes);
      if (!auditEvents.pageInfo.hasNextPage || events.length >= wanted || !auditEvents.pageInfo.endCursor) break;
      after = auditEvents.pageInfo.endCursor;
    }
    show(events, () =>
      events.length
        ? events.map((e: any) => `${e.at}  ${e.actor.padEnd(16)} ${e.action.padEnd(28)} ${(e.outcome ?? '').padEnd(8)} ${e.remoteAddress ?? ''}${e.subjectId ? `  ${e.subjectType} ${e.subjectId}` : ''}`)
        : ['no audit events'],
    );
  });
}
