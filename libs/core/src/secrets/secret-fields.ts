/**
 * Splits a config into its public part and its secret part, by the `writeOnly: true` marks of
 * the plugin's JSON schema, and merges them back for the plugin.
 */
import type { JsonSchema } from '@chainvault/plugin-sdk';

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

export function splitSecrets(schema: JsonSchema, config: Obj): { publicConfig: Obj; secrets: Obj | null } {
  const publicConfig: Obj = {};
  const secrets: Obj = {};
  for (const [key, value] of Object.entries(config)) {
    const field = schema.properties?.[key];
    if (field?.writeOnly) {
      secrets[key] = value;
    } else if (field && isObject(value) && field.properties) {
      const nested = splitSecrets(field, value);
      publicConfig[key] = nested.publicConfig;
      if (nested.secrets) secrets[key] = nested.secrets;
    } else {
      publicConfig[key] = value;
    }
  }
  return { publicConfig, secrets: Object.keys(secrets).length > 0 ? secrets : null };
}

export function mergeSecrets(publicConfig: Obj, secrets: Obj | null): Obj {
  if (!secrets) return publicConfig;
  const merged: Obj = { ...publicConfig };
  for (const [key, value] of Object.entries(secrets)) {
    merged[key] = isObject(value) && isObject(merged[key]) ? mergeSecrets(merged[key] as Obj, value) : value;
  }
  return merged;
}

/** Dotted names of the secret fields present in `secrets`, for display ("password", "tls.key"). */
export function secretFieldNames(secrets: Obj | null, prefix = ''): string[] {
  if (!secrets) return [];
  return Object.entries(secrets).flatMap(([key, value]) =>
    isObject(value) ? secretFieldNames(value, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}
