#!/usr/bin/env node
/**
 * Typed GraphQL operations for the console: reads the operations in src/graphql/operations.graphql,
 * validates them against the API's schema and writes src/graphql/generated.ts, where each
 * operation is its document text typed with its result and variables. A small generator instead
 * of graphql-codegen: the console needs only operation types, and this one has no dependency
 * but graphql. Run `node apps/console/codegen/graphql-types.cjs [schema.graphql]` after changing
 * an operation or the schema (libs/api/schema.graphql by default), or let the console's browser
 * test write it from the schema the server serves (CHAINVAULT_WRITE_CONSOLE_TYPES=1); that test
 * fails while the file is stale.
 */
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const graphql = require('graphql');

const { Kind, buildSchema, getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType, parse, print, validate, typeFromAST } = graphql;

const SCALARS = { ID: 'string', String: 'string', Int: 'number', Float: 'number', Boolean: 'boolean', DateTime: 'string', JSON: 'unknown' };
const OPERATIONS = join(__dirname, '..', 'src', 'graphql', 'operations.graphql');
const OUTPUT = join(__dirname, '..', 'src', 'graphql', 'generated.ts');
const COMMITTED_SCHEMA = join(__dirname, '..', '..', '..', 'libs', 'api', 'schema.graphql');

/** The TypeScript of the operations in `operations` (GraphQL text), checked against `schema` (a GraphQLSchema). */
function generate(schema, operations) {
  const document = parse(operations);
  const errors = validate(schema, document);
  if (errors.length > 0) throw new Error(`the console's operations do not fit the schema:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
  const named = new Map(); // enums and input objects the operations use, by name
  const fragments = new Map(document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));

  const scalar = (type) => SCALARS[type.name] ?? 'unknown';
  const nullable = (ts) => `${ts} | null`;

  function useNamed(type) {
    if (named.has(type.name)) return;
    if (isEnumType(type)) {
      named.set(type.name, `export type ${type.name} = ${type.getValues().map((v) => `'${v.name}'`).join(' | ')};`);
    } else if (isInputObjectType(type)) {
      named.set(type.name, ''); // placeholder against recursion
      const fields = Object.values(type.getFields()).map((f) => `  ${f.name}${isNonNullType(f.type) && f.defaultValue === undefined ? '' : '?'}: ${inputType(f.type)};`);
      named.set(type.name, `export interface ${type.name} {\n${fields.join('\n')}\n}`);
    }
  }

  function inputType(type) {
    if (isNonNullType(type)) return inputInner(type.ofType);
    return nullable(inputInner(type));
  }
  function inputInner(type) {
    if (isListType(type)) return `Array<${inputType(type.ofType)}>`;
    if (isScalarType(type)) return scalar(type);
    useNamed(type);
    return type.name;
  }

  function fieldsOf(parent, selectionSet, into) {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.alias?.value ?? selection.name.value;
        if (selection.name.value === '__typename') into.set(name, 'string');
        else into.set(name, outputType(parent.getFields()[selection.name.value].type, selection.selectionSet));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        fieldsOf(parent, selection.selectionSet, into);
      } else {
        fieldsOf(parent, fragments.get(selection.name.value).selectionSet, into);
      }
    }
    return into;
  }
  function objectType(parent, selectionSet) {
    const fields = fieldsOf(parent, selectionSet, new Map());
    return `{ ${[...fields].map(([k, v]) => `${k}: ${v}`).join('; ')} }`;
  }
  function outputType(type, selectionSet) {
    if (isNonNullType(type)) return outputInner(type.ofType, selectionSet);
    return nullable(outputInner(type, selectionSet));
  }
  function outputInner(type, selectionSet) {
    if (isListType(type)) return `Array<${outputType(type.ofType, selectionSet)}>`;
    if (isScalarType(type)) return scalar(type);
    if (isEnumType(type)) {
      useNamed(type);
      return type.name;
    }
    return objectType(getNamedType(type), selectionSet);
  }

  const out = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (!definition.name) throw new Error('every console operation needs a name');
    const name = definition.name.value;
    const root = { query: schema.getQueryType(), mutation: schema.getMutationType(), subscription: schema.getSubscriptionType() }[definition.operation];
    const variables = (definition.variableDefinitions ?? []).map((v) => {
      const type = typeFromAST(schema, v.type);
      const optional = !isNonNullType(type) || v.defaultValue !== undefined;
      return `  ${v.variable.name.value}${optional ? '?' : ''}: ${inputType(type)};`;
    });
    const used = new Set();
    graphql.visit(definition, { FragmentSpread: (node) => void used.add(node.name.value) });
    const text = [print(definition), ...[...used].map((f) => print(fragments.get(f)))].join('\n');
    out.push(
      `export type ${name}Result = ${objectType(root, definition.selectionSet)};`,
      variables.length ? `export interface ${name}Variables {\n${variables.join('\n')}\n}` : `export type ${name}Variables = Record<string, never>;`,
      `export const ${name} = ${JSON.stringify(text.replace(/\s+/g, ' '))} as Operation<${name}Result, ${name}Variables>;`,
      '',
    );
  }
  return [
    '// Generated by apps/console/codegen/graphql-types.cjs from src/graphql/operations.graphql: do not edit.',
    '',
    '/** A GraphQL document typed with its result and its variables. */',
    'export type Operation<R, V> = string & { readonly __result?: R; readonly __variables?: V };',
    '',
    ...[...named.keys()].sort().map((k) => `${named.get(k)}\n`),
    ...out,
  ].join('\n');
}

/** The generated file for the schema `sdl` and the committed operations. */
function generateFor(sdl) {
  return generate(buildSchema(sdl), readFileSync(OPERATIONS, 'utf8'));
}

if (require.main === module) {
  const schemaFile = process.argv[2] ?? COMMITTED_SCHEMA;
  writeFileSync(OUTPUT, generateFor(readFileSync(schemaFile, 'utf8')));
  console.log(`wrote ${OUTPUT} from ${schemaFile}`);
}

module.exports = { generate, generateFor, OUTPUT, OPERATIONS };
