/**
 * Splits a config into its public part and its secret part, by the `writeOnly: true` marks of
 * the plugin's JSON schema wherever they sit, and merges them back for the plugin.
 *
 * Where a secret is found: a value is secret when any schema that could apply at its position
 * says `writeOnly: true`. The schemas at a position are the one reached through `properties`,
 * `patternProperties`, `additionalProperties` (a map of secrets seals every value), `items`,
 * `prefixItems` or `contains`, together with every branch of its `allOf`, `anyOf`, `oneOf`,
 * `then`, `else` and `dependentSchemas`, and the target of its `$ref` (local: `#`, `#/$defs/…`,
 * `#/definitions/…`, any JSON pointer into the root schema). Branches are united rather than
 * matched against the value: a `oneOf` whose `ssh` branch marks `privateKey` seals a
 * `privateKey` whatever `kind` says. A `$ref` that cannot be resolved here seals the whole value
 * at its position: better hidden than shown.
 *
 * The stored shape of `secrets` mirrors the config (the shape catalogs have always held):
 * - an object holds only the keys that are, or contain, a secret: `{ password: 'x', tls: { key: 'y' } }`;
 *   a secret key is left out of the public object;
 * - an array that contains secrets is mirrored position by position, `null` where an item has
 *   none: `{ replicas: [{ machine: { privateKey: 'K' } }, null] }`; an item that is a secret as
 *   a whole is `null` in the public array and its value in the secret one.
 * A value stored under a key the public part does not have (or over a `null` public item) is
 * put back whole, so the shape written before arrays were walked merges the same way.
 */
import type { JsonSchema } from '@chainvault/plugin-sdk';

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Sets an own property, so a key named `__proto__` in a config stays data. */
function setOwn(target: Obj, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The schema at a local `$ref` (`#`, `#/$defs/name`, any JSON pointer into the root), or undefined. */
function resolveRef(ref: string, root: Obj): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (Array.isArray(at) && /^\d+$/.test(token)) at = at[Number(token)];
    else if (isObject(at) && Object.hasOwn(at, token)) at = at[token];
    else return undefined;
  }
  return at;
}

/**
 * Every schema that could apply at one position: those given, and what their `$ref`s and
 * combinators reach. Each schema is taken once, so a `$ref` cycle ends.
 */
function schemasAt(given: unknown[], root: Obj): { schemas: Obj[]; secret: boolean } {
  const schemas: Obj[] = [];
  const seen = new Set<Obj>();
  let secret = false;
  const visit = (schema: unknown): void => {
    if (!isObject(schema) || seen.has(schema)) return;
    seen.add(schema);
    schemas.push(schema);
    if (schema.writeOnly === true) secret = true;
    if (typeof schema.$ref === 'string') {
      const target = resolveRef(schema.$ref, root);
      if (target === undefined) secret = true;
      else visit(target);
    }
    for (const keyword of ['allOf', 'anyOf', 'oneOf'] as const) {
      const branches = schema[keyword];
      if (Array.isArray(branches)) branches.forEach(visit);
    }
    visit(schema.then);
    visit(schema.else);
    if (isObject(schema.dependentSchemas)) Object.values(schema.dependentSchemas).forEach(visit);
  };
  given.forEach(visit);
  return { schemas, secret };
}

function matchesPattern(pattern: string, key: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(key);
  } catch {
    return false;
  }
}

/** The schemas that apply to the value under `key` of an object, by every schema at the object's position. */
function propertySchemas(schemas: Obj[], key: string): unknown[] {
  const found: unknown[] = [];
  for (const schema of schemas) {
    let named = false;
    if (isObject(schema.properties) && Object.hasOwn(schema.properties, key)) {
      found.push(schema.properties[key]);
      named = true;
    }
    if (isObject(schema.patternProperties)) {
      for (const [pattern, sub] of Object.entries(schema.patternProperties)) {
        if (matchesPattern(pattern, key)) {
          found.push(sub);
          named = true;
        }
      }
    }
    if (!named) found.push(schema.additionalProperties, schema.unevaluatedProperties);
  }
  return found;
}

/** The schemas that apply to item `index` of an array (draft 2020-12 and draft-07 tuple forms). */
function itemSchemas(schemas: Obj[], index: number): unknown[] {
  const found: unknown[] = [];
  for (const schema of schemas) {
    const { prefixItems, items } = schema;
    if (Array.isArray(prefixItems) && index < prefixItems.length) found.push(prefixItems[index]);
    else if (Array.isArray(items)) found.push(index < items.length ? items[index] : schema.additionalItems);
    else found.push(items);
    found.push(schema.contains, schema.unevaluatedItems);
  }
  return found;
}

/**
 * One value split: `sealed` when it is a secret as a whole; otherwise its public form and,
 * when it contains secrets, their mirror.
 */
type Part = { sealed: true } | { sealed: false; publicValue: unknown; secret?: unknown };

function splitValue(given: unknown[], value: unknown, root: Obj): Part {
  const { schemas, secret } = schemasAt(given, root);
  if (secret) return { sealed: true };
  if (schemas.length === 0) return { sealed: false, publicValue: value };
  if (isObject(value)) {
    const publicValue: Obj = {};
    const secrets: Obj = {};
    let hasSecret = false;
    for (const [key, item] of Object.entries(value)) {
      const part = splitValue(propertySchemas(schemas, key), item, root);
      if (part.sealed) {
        setOwn(secrets, key, item);
        hasSecret = true;
        continue;
      }
      setOwn(publicValue, key, part.publicValue);
      if (part.secret !== undefined) {
        setOwn(secrets, key, part.secret);
        hasSecret = true;
      }
    }
    return { sealed: false, publicValue, ...(hasSecret ? { secret: secrets } : {}) };
  }
  if (Array.isArray(value)) {
    const publicValue: unknown[] = [];
    const secrets: unknown[] = [];
    value.forEach((item, index) => {
      const part = splitValue(itemSchemas(schemas, index), item, root);
      publicValue.push(part.sealed ? null : part.publicValue);
      secrets.push(part.sealed ? item : (part.secret ?? null));
    });
    // A sealed item that is itself null needs no record: its public placeholder is null too.
    return { sealed: false, publicValue, ...(secrets.some((s) => s !== null) ? { secret: secrets } : {}) };
  }
  return { sealed: false, publicValue: value };
}

/**
 * The config without its secret values, and the secrets in the shape described at the top of
 * this file (null when there are none). `config` is left as it was.
 */
export function splitSecrets(schema: JsonSchema, config: Obj): { publicConfig: Obj; secrets: Obj | null } {
  const root = schema as unknown as Obj;
  const part = splitValue([root], config, root);
  if (part.sealed) return { publicConfig: {}, secrets: structuredClone(config) };
  return { publicConfig: part.publicValue as Obj, secrets: (part.secret as Obj | undefined) ?? null };
}

function mergeValue(publicValue: unknown, secret: unknown): unknown {
  if (isObject(secret) && isObject(publicValue)) {
    const merged: Obj = { ...publicValue };
    for (const [key, value] of Object.entries(secret)) setOwn(merged, key, mergeValue(publicValue[key], value));
    return merged;
  }
  if (Array.isArray(secret) && Array.isArray(publicValue)) {
    return publicValue.map((item, index) => (index < secret.length && secret[index] !== null ? mergeValue(item, secret[index]) : item));
  }
  return secret;
}

/** The config as the plugin was given it. Reads both the current and the earlier (objects only) shape. */
export function mergeSecrets(publicConfig: Obj, secrets: Obj | null): Obj {
  if (!secrets) return publicConfig;
  return mergeValue(publicConfig, secrets) as Obj;
}

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

function collectNames(value: unknown, path: string, names: string[]): void {
  const before = names.length;
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      if (item !== null) collectNames(item, `${path}[${index}]`, names);
    });
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      collectNames(item, PLAIN_KEY.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`, names);
    }
  }
  // A leaf, or a secret that is an empty (or all-null) object or array as a whole.
  if (names.length === before && path) names.push(path);
}

/**
 * Names of the secret fields present in `secrets`, for display: `password`, `tls.key`,
 * `replicas[1].machine.privateKey`, `headers["X.Token"]`. Never their values.
 */
export function secretFieldNames(secrets: Obj | null): string[] {
  const names: string[] = [];
  if (secrets) collectNames(secrets, '', names);
  return names;
}

const MASK = '***';
/** Lines of a multi-line secret (a PEM key's body) this long are masked on their own, should a message quote one. */
const MASKED_LINE = 16;

function secretStrings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'bigint') out.push(String(value));
  else if (Array.isArray(value)) value.forEach((item) => secretStrings(item, out));
  else if (isObject(value)) Object.values(value).forEach((item) => secretStrings(item, out));
}

/**
 * `text` with every secret value of `secrets` (in either stored shape) replaced by `***`: as it
 * is, as JSON would quote it, and, for a multi-line value, each of its longer lines that is not
 * PEM armour. A value shorter than four characters is masked only where it stands alone, so
 * that a one-letter secret does not garble the message around it.
 */
export function maskSecretValues(text: string, secrets: Obj | null): string {
  if (!secrets) return text;
  const values: string[] = [];
  secretStrings(secrets, values);
  const needles = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    needles.add(value);
    needles.add(JSON.stringify(value).slice(1, -1));
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= MASKED_LINE && !/^-----(BEGIN|END) /.test(trimmed)) needles.add(trimmed);
    }
  }
  let masked = text;
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    if (needle.length >= 4) masked = masked.split(needle).join(MASK);
    else masked = masked.replace(new RegExp(`(?<![\\w])${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w])`, 'g'), MASK);
  }
  return masked;
}

/**
 * Runs `work`; an error it throws leaves with every secret value of `secrets` masked in its
 * message (and stack), so a schema error or a plugin's check never shows the caller's secret
 * back in an API answer or a log.
 */
export async function withSecretsMasked<T>(secrets: Array<Obj | null>, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error) {
      for (const part of secrets) {
        error.message = maskSecretValues(error.message, part);
        if (error.stack) error.stack = maskSecretValues(error.stack, part);
      }
    }
    throw error;
  }
}

/**
 * The secrets of a changed config: those given with it, and the earlier ones it does not give
 * again, wherever the object that held them is still in the new config. An object that was
 * secret as a whole (a headers map: nothing of it in the earlier public config) is kept whole;
 * one that had public fields and is gone from the new config takes its secrets with it.
 */
export function keepSecrets(earlier: Obj | null, earlierPublic: Obj, publicConfig: Obj, given: Obj | null): Obj | null {
  const carry = (old: unknown, wasPublic: unknown, publicValue: unknown, now: unknown): unknown => {
    if (now !== undefined && now !== null && !(isObject(now) && isObject(old)) && !(Array.isArray(now) && Array.isArray(old))) return now;
    const present = (isObject(old) && (isObject(publicValue) || isObject(now))) || (Array.isArray(old) && (Array.isArray(publicValue) || Array.isArray(now)));
    if (!present && (isObject(old) || Array.isArray(old)) && wasPublic !== undefined) return now ?? undefined;
    if (isObject(old) && present) {
      const out: Obj = isObject(now) ? { ...now } : {};
      for (const [key, value] of Object.entries(old)) {
        const kept = carry(value, isObject(wasPublic) ? wasPublic[key] : undefined, isObject(publicValue) ? publicValue[key] : undefined, isObject(now) ? now[key] : undefined);
        if (kept !== undefined) setOwn(out, key, kept);
      }
      return Object.keys(out).length ? out : undefined;
    }
    if (Array.isArray(old) && present) {
      const length = Math.max(Array.isArray(publicValue) ? publicValue.length : 0, Array.isArray(now) ? now.length : 0);
      const at = (list: unknown, i: number) => (Array.isArray(list) ? list[i] : undefined);
      const out = Array.from({ length }, (_, i) => carry(old[i], at(wasPublic, i), at(publicValue, i), at(now, i)) ?? null);
      return out.some((v) => v !== null) ? out : undefined;
    }
    // Not given again: a leaf in an object still there, or a subtree that was secret as a whole.
    return now ?? old;
  };
  const merged = carry(earlier ?? undefined, earlierPublic, publicConfig, given ?? undefined);
  return isObject(merged) ? merged : null;
}
