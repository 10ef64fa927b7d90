/**
 * The subset of JSON Schema (draft 2020-12) vocabulary that plugin schemas use. The host
 * validates with a full validator; this type only helps authors write schemas.
 *
 * Secret fields (passwords, tokens, private keys) are marked with the standard annotation
 * `writeOnly: true`: the host stores them encrypted and never returns them.
 */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null' | Array<string>;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  /** `#/$defs/name` (or `#/definitions/name`): a schema defined once, used in several places. */
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  patternProperties?: Record<string, JsonSchema>;
  prefixItems?: JsonSchema[];
  uniqueItems?: boolean;
  if?: JsonSchema;
  then?: JsonSchema;
  else?: JsonSchema;
  not?: JsonSchema;
  writeOnly?: boolean;
  readOnly?: boolean;
  examples?: unknown[];
}

/** A JSON value, as stored in backup metadata and options. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
