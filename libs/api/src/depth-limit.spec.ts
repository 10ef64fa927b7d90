import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { depthLimit } from './depth-limit';

const schema = buildSchema(`
  type Node { id: ID! parent: Node children: [Node!]! }
  type Query { node: Node }
`);

const errorsOf = (query: string) => validate(schema, parse(query), [depthLimit(3)]).map((e) => e.message);

describe('depthLimit', () => {
  it('accepts a query at the limit and refuses one level more, saying how deep it was', () => {
    expect(errorsOf('{ node { parent { id } } }')).toEqual([]);
    expect(errorsOf('{ node { parent { parent { id } } } }')).toEqual(['the query is 4 levels deep; at most 3 are allowed']);
  });

  it('counts fields reached through fragments, inline and named', () => {
    expect(errorsOf('{ node { ...F } } fragment F on Node { parent { ... on Node { parent { id } } } }')).toEqual([
      'the query is 4 levels deep; at most 3 are allowed',
    ]);
  });

  it('lets GraphiQL introspect the schema', () => {
    expect(errorsOf(getIntrospectionQuery())).toEqual([]);
  });

  it('terminates on fragment cycles (reported by graphql-js itself)', () => {
    const cyclic = parse('{ node { ...A } } fragment A on Node { parent { ...B } } fragment B on Node { parent { ...A } }');
    expect(validate(schema, cyclic, [depthLimit(3)])).toEqual([]);
    const messages = validate(schema, cyclic, [...specifiedRules, depthLimit(3)]).map((e) => e.message);
    expect(messages.join(' ')).toMatch(/Cannot spread fragment "A" within itself/);
  });
});
