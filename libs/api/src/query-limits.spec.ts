import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate, type GraphQLError, type ValidationRule } from 'graphql';
import { DOCUMENT_MAX_TOKENS, documentShapeProblem, queryCostLimit, queryDepthLimit, queryLimitRules, validateOperation } from './query-limits';

// The shape of chainvault's schema where cost matters: a paged connection, plain lists, an interface.
const schema = buildSchema(`
  interface Entity { id: ID! }
  type Query {
    backups(first: Int, after: String): BackupConnection!
    backup(id: ID!): Backup
    jobs(first: Int = 100, after: String): [Job!]!
    job(id: ID!): Job
    entity(id: ID!): Entity
    plugins: [Plugin!]!
    tree: TreeNode
  }
  type BackupConnection { edges: [BackupEdge!]! nodes: [Backup!]! totalCount: Int! }
  type BackupEdge { cursor: String! node: Backup! }
  type Backup implements Entity { id: ID! parent: Backup files(first: Int, after: String): [BackupFile!]! }
  type BackupFile { path: String! size: Float! }
  type Job implements Entity { id: ID! status: String! log: [LogLine!]! }
  type LogLine { level: String! message: String! }
  type Plugin { id: ID! protocols: [String!]! methods: [PluginMethod!]! }
  type PluginMethod { name: String! optionsSchema: String! }
  type TreeNode { id: ID! parent: TreeNode children: [TreeNode!]! }
`);

const LIMITS = { maxDepth: 10, maxCost: 50_000 };

const errorsOf = (query: string, rules: ValidationRule[]) => validate(schema, parse(query), rules);
const messagesOf = (query: string, rules: ValidationRule[]) => errorsOf(query, rules).map((e) => e.message);
/** The cost the rule computes, read back from its refusal under a limit of 0. */
const costOf = (query: string, variables?: Record<string, unknown>) => {
  const [error] = errorsOf(query, [queryCostLimit(0, variables)]);
  return error?.extensions.value;
};

/** `fragment F0 on Query { ...F1 ...F1 } …`: 2^n paths to the innermost fragment, in about 40·n bytes. */
const fragmentBomb = (n: number) =>
  `{ ...F0 } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F${n} on Query { jobs { id } }`;
const aliasFlood = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: backups { nodes { files { path } } }`).join(' ')} }`;

/** Parse + every check a transport runs; the median of 3 runs, after a warm-up, as the machine is shared. */
function timeRefusal(query: string): { ms: number; errors: GraphQLError[] } {
  validateOperation(schema, parse(getIntrospectionQuery()), LIMITS);
  const runs: number[] = [];
  let errors: GraphQLError[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    errors = validateOperation(schema, parse(query), LIMITS);
    runs.push(performance.now() - started);
  }
  // The fastest run is the refusal's own cost: the other suites sharing the two cores only add to the rest.
  return { ms: Math.min(...runs), errors };
}

describe('queryDepthLimit', () => {
  const depth3 = [queryDepthLimit(3)];

  it('accepts a query at the limit and refuses one level more, saying how deep it was and which setting applies', () => {
    expect(messagesOf('{ tree { parent { id } } }', depth3)).toEqual([]);
    const [error, ...more] = errorsOf('{ tree { parent { parent { id } } } }', depth3);
    expect(more).toEqual([]);
    expect(error.message).toBe('the query is 4 levels deep; at most 3 are allowed (maxQueryDepth, CHAINVAULT_MAX_QUERY_DEPTH)');
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'maxQueryDepth', value: 4, max: 3 });
  });

  it('counts fields reached through fragments, inline and named, but not the fragments themselves', () => {
    expect(errorsOf('{ tree { ...F } } fragment F on TreeNode { parent { ... on TreeNode { parent { id } } } }', depth3)[0]?.extensions.value).toBe(4);
    expect(messagesOf('{ tree { ...F } } fragment F on TreeNode { ... on TreeNode { parent { id } } }', depth3)).toEqual([]);
  });

  it('takes the deepest of the places a fragment is spread', () => {
    const query = '{ tree { id ...F } jobs { id } } fragment F on TreeNode { parent { parent { parent { id } } } }';
    expect(errorsOf(query, [queryDepthLimit(4)])[0]?.extensions.value).toBe(5);
  });

  it('does not count introspection fields', () => {
    expect(messagesOf('{ __schema { types { fields { type { ofType { ofType { name } } } } } } tree { __typename } }', [queryDepthLimit(1)])).toEqual([]);
  });

  it('lets GraphiQL introspect the schema at the production limit', () => {
    expect(validate(schema, parse(getIntrospectionQuery()), [...specifiedRules, queryDepthLimit(10)])).toEqual([]);
  });

  it('terminates on fragment cycles (reported by graphql-js itself)', () => {
    const cyclic = parse('{ tree { ...A } } fragment A on TreeNode { parent { ...B } } fragment B on TreeNode { parent { ...A } }');
    expect(validate(schema, cyclic, queryLimitRules({ maxDepth: 3, maxCost: 1000 }))).toEqual([]);
    const messages = validate(schema, cyclic, [...specifiedRules, ...queryLimitRules({ maxDepth: 3, maxCost: 1000 })]).map((e) => e.message);
    expect(messages.join(' ')).toMatch(/Cannot spread fragment "A" within itself/);
  });

  it('works out each fragment once: a bomb of 2^20 paths is measured at once', () => {
    const started = performance.now();
    expect(messagesOf(fragmentBomb(20), [queryDepthLimit(10)])).toEqual([]);
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('queryCostLimit', () => {
  it('multiplies a page by its `first`: backups(first: 500) costs 1 + (1 + 500 × (1 + 100 × 1))', () => {
    const [error, ...more] = errorsOf('{ backups(first: 500) { nodes { files { path } } } }', [queryCostLimit(50_000)]);
    expect(more).toEqual([]);
    expect(error.message).toBe(
      'the query costs 50502; at most 50000 is allowed (maxQueryCost, CHAINVAULT_MAX_QUERY_COST): ask for fewer items per page or fewer aliases',
    );
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'maxQueryCost', value: 50_502, max: 50_000 });
  });

  it('accepts an ordinary page of backups with their files, and the jobs', () => {
    const query = '{ backups(first: 20) { nodes { id files { path } } } jobs { id } }';
    // backups 1 + (nodes 1 + 20 × (id 1 + files (1 + 100 × 1))) = 2042; jobs 1 + 100 × 1 = 101
    expect(costOf(query)).toBe(2143);
    expect(messagesOf(query, [...specifiedRules, ...queryLimitRules(LIMITS)])).toEqual([]);
  });

  it('takes a page of 50 when `first` is left out, and 100 for a list without paging', () => {
    expect(costOf('{ backups { totalCount nodes { id } } }')).toBe(1 + 1 + 1 + 50);
    expect(costOf('{ backups(first: 7) { edges { node { id } } } }')).toBe(1 + 1 + 7 * (1 + 1));
    expect(costOf('{ jobs { log { message } } }')).toBe(1 + 100 * (1 + 100));
    // A list paged on request counts its `first`, its default (jobs: 100), or else the whole list (a backup's files).
    expect(costOf('{ jobs(first: 1000) { id } }')).toBe(1 + 1000);
    expect(costOf('{ backup(id: "b") { files(first: 7) { path } } }')).toBe(1 + 1 + 7);
    expect(costOf('{ backup(id: "b") { files { path } } }')).toBe(1 + 1 + 100);
    // The loaded plugins and their methods are bounded by the server's make-up, not by the data.
    expect(costOf('{ plugins { protocols } }')).toBe(1 + 20);
    expect(costOf('{ plugins { methods { name optionsSchema } } }')).toBe(1 + 20 * (1 + 10 * 2));
  });

  it('reads `first: $n` from the variables when the caller has them, else from the variable default, else takes 50', () => {
    const query = 'query ($n: Int) { backups(first: $n) { nodes { id } } }';
    expect(costOf(query, { n: 500 })).toBe(2 + 500);
    expect(costOf(query)).toBe(2 + 50);
    expect(costOf('query ($n: Int = 300) { backups(first: $n) { nodes { id } } }')).toBe(2 + 300);
  });

  it('counts every alias of the same field', () => {
    expect(costOf('{ a: jobs { id } b: jobs { id } jobs { id } }')).toBe(3 * 101);
  });

  it('reads the fields of an inline fragment on the type it narrows to', () => {
    // On Entity, `log` does not exist; on Job it is a list of 100.
    expect(costOf('{ entity(id: "1") { ... on Job { log { message } } } }')).toBe(1 + 1 + 100);
    expect(costOf('{ entity(id: "1") { ...J } } fragment J on Job { log { message } }')).toBe(1 + 1 + 100);
  });

  it('charges nothing for introspection, so GraphiQL can read the schema', () => {
    expect(messagesOf('{ __typename }', [...specifiedRules, ...queryLimitRules(LIMITS)])).toEqual([]);
    expect(validate(schema, parse(getIntrospectionQuery()), [...specifiedRules, ...queryLimitRules(LIMITS)])).toEqual([]);
    expect(validateOperation(schema, parse(getIntrospectionQuery()), LIMITS)).toEqual([]);
  });

  it('refuses a fragment bomb by its cost, which saturates instead of turning into Infinity or NaN', () => {
    // 2^22 copies of `jobs { id }`, 101 each
    expect(costOf(fragmentBomb(22))).toBe(2 ** 22 * 101);
    expect(costOf(fragmentBomb(80))).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('documentShapeProblem', () => {
  it('counts fields, aliases and fragment spreads as written', () => {
    const document = parse('{ a: jobs { id } b: jobs { ...J } } fragment J on Job { ... on Job { status } }');
    expect(documentShapeProblem(document, { maxFields: 4, maxAliases: 2, maxFragmentSpreads: 1 })).toBeUndefined();
    expect(documentShapeProblem(document, { maxFields: 3 })?.extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'maxQueryFields', value: 4, max: 3 });
    expect(documentShapeProblem(document, { maxAliases: 1 })?.extensions).toMatchObject({ limit: 'maxQueryAliases', value: 2 });
    expect(documentShapeProblem(document, { maxFragmentSpreads: 0 })?.message).toBe('the query has 1 fragment spreads; at most 0 are allowed');
  });

  it('lets GraphiQL introspection through with the defaults, and parse it within the token limit', () => {
    expect(documentShapeProblem(parse(getIntrospectionQuery(), { maxTokens: DOCUMENT_MAX_TOKENS }))).toBeUndefined();
  });

  it('refuses 125 copies of `parent { id }` in one selection (251 fields), a quadratic case for graphql-js', () => {
    const repeated = (copies: number) => parse(`{ tree { ${Array.from({ length: copies }, () => 'parent { id }').join(' ')} } }`);
    expect(documentShapeProblem(repeated(124))).toBeUndefined();
    expect(documentShapeProblem(repeated(125))?.extensions).toMatchObject({ limit: 'maxQueryFields', value: 251, max: 250 });
  });
});

describe('the attacks, refused in under 100 ms for parse and every check', () => {
  it.each([22, 30])('a fragment bomb of depth %i, by its cost', (n) => {
    const { ms, errors } = timeRefusal(fragmentBomb(n));
    expect(errors.map((e) => e.extensions.limit)).toEqual(['maxQueryCost']);
    expect(ms).toBeLessThan(100);
  });

  it('2,000 aliases of backups { nodes { files { path } } }, by their number before graphql-js reads them', () => {
    const flood = aliasFlood(2000);
    const { ms, errors } = timeRefusal(flood);
    expect(errors.map((e) => e.extensions)).toEqual([{ code: 'BAD_USER_INPUT', limit: 'maxQueryFields', value: 8000, max: 250 }]);
    expect(ms).toBeLessThan(100);
    // Without the shape check the cost rule still refuses it: 2,000 × (1 + (1 + 50 × (1 + 100 × 1))).
    expect(costOf(flood)).toBe(2000 * 5052);
  });

  it('the alias flood over HTTP, where parse stops at DOCUMENT_MAX_TOKENS before any rule runs', () => {
    const started = performance.now();
    expect(() => parse(aliasFlood(2000), { maxTokens: DOCUMENT_MAX_TOKENS })).toThrow(/500 tokens. Parsing aborted/);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('300 copies of the same field (no aliases), which make OverlappingFieldsCanBeMerged quadratic', () => {
    const { ms, errors } = timeRefusal(`{ ${Array.from({ length: 300 }, () => 'backups { nodes { files { path } } }').join(' ')} }`);
    expect(errors.map((e) => e.extensions.limit)).toEqual(['maxQueryFields']);
    expect(ms).toBeLessThan(100);
  });
});
