/**
 * Limits on what one GraphQL document may ask for (nesting depth, static cost, size), so that a
 * small request can neither stall validation nor make the server fetch and send unbounded data.
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  specifiedRules,
  validate,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';

export interface QueryLimits {
  /** Deepest selection accepted (maxQueryDepth). */
  maxDepth: number;
  /** Highest static cost accepted (maxQueryCost). */
  maxCost: number;
}

/** Bounds on the document's text itself, checked before graphql-js's own rules (some of which are quadratic). */
export interface DocumentShapeLimits {
  maxFields?: number;
  maxAliases?: number;
  maxFragmentSpreads?: number;
}

/**
 * OverlappingFieldsCanBeMerged is quadratic in same-name fields: 120 copies of `parent { id }` in
 * one selection, or 6 × 6 × 6 nested, take 20–50 ms on a busy 2-core machine, 500 fields 70–150 ms.
 * 250 keeps the worst shapes measured near 25 ms; GraphiQL's introspection query has 67 fields.
 */
export const DOCUMENT_SHAPE_DEFAULTS: Required<DocumentShapeLimits> = { maxFields: 250, maxAliases: 100, maxFragmentSpreads: 100 };

/**
 * For graphql's `parse(source, { maxTokens })`, which stops reading there: on HTTP, Apollo's
 * `parseOptions`, as nothing can run documentShapeProblem before graphql-js's rules there. The
 * costliest shape in 500 tokens (`parent { id }` repeated) has about 250 fields; introspection has 163 tokens.
 */
export const DOCUMENT_MAX_TOKENS = 500;

/** What a connection's `first` defaults to in the resolvers (`first ?? 50`). */
export const DEFAULT_PAGE_SIZE = 50;
/** Lists without paging (files, log, jobs, …) are assumed this long: the real length is only known when resolved. */
export const DEFAULT_LIST_SIZE = 100;
/**
 * Lists whose length the server's own make-up bounds, not the data: the loaded plugins and their
 * methods. A console asks for all of them with their schemas in one query.
 */
export const BOUNDED_LIST_SIZES: Readonly<Record<string, number>> = { 'Query.plugins': 20, 'Plugin.methods': 10 };

type VariableValues = Readonly<Record<string, unknown>>;

// Saturating, so that a fragment bomb's 2^n × … stays a number that compares above any limit.
const MAX_COST = Number.MAX_SAFE_INTEGER;
const plus = (a: number, b: number) => Math.min(a + b, MAX_COST);
const times = (a: number, b: number) => (a === 0 || b === 0 ? 0 : a > MAX_COST / b ? MAX_COST : a * b);

// Introspection (`__schema`, `__type`, `__typename`) is bounded by the schema, not by the data.
const isIntrospection = (fieldName: string) => fieldName.startsWith('__');

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

function badInput(message: string, limit: string, value: number, max: number, nodes?: GraphQLError['nodes']) {
  return new GraphQLError(message, { nodes, extensions: { code: 'BAD_USER_INPUT', limit, value, max } });
}

/** Refuses operations nested deeper than maxDepth; each fragment's depth is worked out once, so the check is linear. */
export function queryDepthLimit(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context.getDocument());
    const fragmentDepths = new Map<string, number>();
    const inProgress = new Set<string>();

    const fragmentDepth = (name: string): number => {
      const known = fragmentDepths.get(name);
      if (known !== undefined) return known;
      const fragment = fragments.get(name);
      // A cycle (reported by NoFragmentCyclesRule) or an unknown fragment (KnownFragmentNamesRule) adds nothing here.
      if (!fragment || inProgress.has(name)) return 0;
      inProgress.add(name);
      const depth = selectionDepth(fragment.selectionSet);
      inProgress.delete(name);
      fragmentDepths.set(name, depth);
      return depth;
    };

    const selectionDepth = (set: SelectionSetNode): number => {
      let deepest = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (isIntrospection(selection.name.value)) continue;
          deepest = Math.max(deepest, 1 + (selection.selectionSet ? selectionDepth(selection.selectionSet) : 0));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, selectionDepth(selection.selectionSet));
        } else {
          deepest = Math.max(deepest, fragmentDepth(selection.name.value));
        }
      }
      return deepest;
    };

    return {
      OperationDefinition(operation) {
        const depth = selectionDepth(operation.selectionSet);
        if (depth > maxDepth) {
          context.reportError(
            badInput(`the query is ${depth} levels deep; at most ${maxDepth} are allowed (maxQueryDepth, CHAINVAULT_MAX_QUERY_DEPTH)`, 'maxQueryDepth', depth, maxDepth, [operation]),
          );
        }
        return false; // the walk above has seen the whole operation
      },
    };
  };
}

/**
 * Refuses operations whose static cost is above maxCost. A field costs 1, plus, when it has a
 * selection, that selection's cost times the field's list size. `variables`, when the caller has
 * them (graphql-ws, an Apollo plugin), give `first: $n` its real value; graphql 16's validation has none.
 */
export function queryCostLimit(maxCost: number, variables?: VariableValues): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const schema = context.getSchema();
    const document = context.getDocument();
    const fragments = fragmentsOf(document);
    const knownVariables =
      variables ?? (context as ValidationContext & { getVariableValues?: () => VariableValues | undefined }).getVariableValues?.() ?? {};
    // Defaults of `$n` are per operation; taking the largest over the document keeps fragment costs shared by all operations.
    const variableDefaults = new Map<string, number>();
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const variable of definition.variableDefinitions ?? []) {
        const value = variable.defaultValue && intLiteral(variable.defaultValue);
        const name = variable.variable.name.value;
        if (value !== undefined) variableDefaults.set(name, Math.max(value, variableDefaults.get(name) ?? 0));
      }
    }

    /** `fallback` when neither the query nor the schema gives `first`: a list paged only on request (a backup's files) is a whole list. */
    const requestedPageSize = (field: GraphQLField<unknown, unknown>, value: ValueNode | undefined, fallback: number): number => {
      const argument = field.args.find((a) => a.name === 'first');
      let size: unknown;
      if (value?.kind === Kind.VARIABLE) {
        const name = value.name.value;
        size = typeof knownVariables[name] === 'number' ? knownVariables[name] : variableDefaults.get(name);
      } else if (value) {
        size = intLiteral(value);
      }
      size ??= argument?.defaultValue;
      return typeof size === 'number' && Number.isFinite(size) ? Math.min(Math.max(0, Math.floor(size)), MAX_COST) : fallback;
    };

    const fragmentCosts = new Map<string, number>();
    const inProgress = new Set<string>();

    // The type a named fragment's fields are read on is its own type condition, so the spread site's
    // type does not change its cost: only the page it is spread into does.
    const fragmentCost = (name: string, pageSize: number | undefined): number => {
      const key = `${name}\0${pageSize ?? ''}`;
      const known = fragmentCosts.get(key);
      if (known !== undefined) return known;
      const fragment = fragments.get(name);
      if (!fragment || inProgress.has(key)) return 0;
      inProgress.add(key);
      const cost = selectionCost(fragment.selectionSet, compositeType(schema, fragment.typeCondition.name.value), pageSize);
      inProgress.delete(key);
      fragmentCosts.set(key, cost);
      return cost;
    };

    /**
     * `pageSize` is set inside a paged object such as BackupConnection: `backups(first: 500)` is not
     * a list itself, its `nodes` and `edges` are, and they hold `first` items rather than DEFAULT_LIST_SIZE.
     */
    const selectionCost = (set: SelectionSetNode, parent: GraphQLCompositeType | undefined, pageSize: number | undefined): number => {
      let total = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          const name = selection.name.value;
          if (isIntrospection(name)) continue;
          if (!selection.selectionSet) {
            total = plus(total, 1);
            continue;
          }
          // An unknown field (reported by FieldsOnCorrectTypeRule) still costs its selection, counted flat.
          const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
          const type = field && (isNonNullType(field.type) ? field.type.ofType : field.type);
          const named = field && getNamedType(field.type);
          const paged = field?.args.some((a) => a.name === 'first') ?? false;
          const isList = type !== undefined && isListType(type);
          const ownPageSize = field && paged ? requestedPageSize(field, selection.arguments?.find((a) => a.name.value === 'first')?.value, isList ? DEFAULT_LIST_SIZE : DEFAULT_PAGE_SIZE) : undefined;
          const bounded = parent ? BOUNDED_LIST_SIZES[`${parent.name}.${name}`] : undefined;
          const listSize = isList ? (ownPageSize ?? pageSize ?? bounded ?? DEFAULT_LIST_SIZE) : 1;
          const inner = selectionCost(selection.selectionSet, named && isCompositeType(named) ? named : undefined, isList ? undefined : ownPageSize);
          total = plus(total, plus(1, times(listSize, inner)));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const narrowed = selection.typeCondition ? compositeType(schema, selection.typeCondition.name.value) : parent;
          total = plus(total, selectionCost(selection.selectionSet, narrowed, pageSize));
        } else {
          total = plus(total, fragmentCost(selection.name.value, pageSize));
        }
      }
      return total;
    };

    return {
      OperationDefinition(operation) {
        const root = schema.getRootType(operation.operation) ?? undefined;
        const cost = selectionCost(operation.selectionSet, root, undefined);
        if (cost > maxCost) {
          context.reportError(
            badInput(
              `the query costs ${cost}; at most ${maxCost} is allowed (maxQueryCost, CHAINVAULT_MAX_QUERY_COST): ask for fewer items per page or fewer aliases`,
              'maxQueryCost',
              cost,
              maxCost,
              [operation],
            ),
          );
        }
        return false;
      },
    };
  };
}

function compositeType(schema: GraphQLSchema, name: string): GraphQLCompositeType | undefined {
  const type = schema.getType(name);
  return type && isCompositeType(type) ? type : undefined;
}

function intLiteral(value: ValueNode): number | undefined {
  return value.kind === Kind.INT ? Number(value.value) : undefined;
}

export function queryLimitRules(limits: QueryLimits, variables?: VariableValues): ValidationRule[] {
  return [queryDepthLimit(limits.maxDepth), queryCostLimit(limits.maxCost, variables)];
}

/**
 * Counts fields, aliases and fragment spreads as written (fragments not expanded), in one pass
 * far cheaper than parsing: run it before graphql-js's rules, which need ~90 ms for the 2,000-alias
 * flood and, through OverlappingFieldsCanBeMerged, ~300 ms for 300 repeated `backups { nodes { files { path } } }` (11 KB).
 */
export function documentShapeProblem(document: DocumentNode, limits: DocumentShapeLimits = DOCUMENT_SHAPE_DEFAULTS): GraphQLError | undefined {
  let fields = 0;
  let aliases = 0;
  let spreads = 0;
  const pending: SelectionSetNode[] = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) pending.push(definition.selectionSet);
  }
  // A stack rather than recursion: the document may be as deep as the parser allowed.
  for (let set = pending.pop(); set; set = pending.pop()) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        fields++;
        if (selection.alias) aliases++;
        if (selection.selectionSet) pending.push(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        pending.push(selection.selectionSet);
      } else {
        spreads++;
      }
    }
  }
  const { maxFields, maxAliases, maxFragmentSpreads } = limits;
  if (maxFields !== undefined && fields > maxFields) {
    return badInput(`the query has ${fields} fields; at most ${maxFields} are allowed`, 'maxQueryFields', fields, maxFields);
  }
  if (maxAliases !== undefined && aliases > maxAliases) {
    return badInput(`the query has ${aliases} aliases; at most ${maxAliases} are allowed`, 'maxQueryAliases', aliases, maxAliases);
  }
  if (maxFragmentSpreads !== undefined && spreads > maxFragmentSpreads) {
    return badInput(`the query has ${spreads} fragment spreads; at most ${maxFragmentSpreads} are allowed`, 'maxFragmentSpreads', spreads, maxFragmentSpreads);
  }
  return undefined;
}

/**
 * Everything a transport that validates by itself (graphql-ws's onSubscribe) must check: the
 * document's shape first, then graphql-js's rules and the depth and cost limits in one pass.
 */
export function validateOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  limits: QueryLimits & { shape?: DocumentShapeLimits },
  variables?: VariableValues,
): GraphQLError[] {
  const shapeProblem = documentShapeProblem(document, limits.shape ?? DOCUMENT_SHAPE_DEFAULTS);
  if (shapeProblem) return [shapeProblem];
  return [...validate(schema, document, [...specifiedRules, ...queryLimitRules(limits, variables)])];
}
