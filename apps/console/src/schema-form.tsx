/**
 * A form made from a plugin's JSON schema (a node config, a method's options, a restore
 * target): one field per property, with the schema's title and description as the plugin
 * words them. Secret (writeOnly) fields are write-only: never filled in from the server, and a
 * secret left empty keeps its stored value. Errors the server names by field (`config.path: …`)
 * are shown under that field, in the schema's own words.
 */
import type { JSX } from 'preact';

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  writeOnly?: boolean;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
}

export type FormValue = Record<string, unknown>;

/** Field errors out of a server message such as `node config does not fit plugin "directory": config.path: must NOT have fewer than 1 characters; config: missing required field "x"`. */
export function fieldErrors(message: string, subject: string): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = new RegExp(`${subject}((?:\\.[\\w$-]+)*): ([^;]+)`, 'g');
  for (const match of message.matchAll(pattern)) {
    const path = match[1].replace(/^\./, '');
    const text = match[2].trim();
    const missing = /^missing required field "([^"]+)"$/.exec(text);
    const key = missing ? (path ? `${path}.${missing[1]}` : missing[1]) : path;
    found.set(key, missing ? `required: ${text}` : text);
  }
  return found;
}

function kind(schema: JsonSchema): string {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (schema.enum) return 'enum';
  return type ?? 'json';
}

/**
 * Drops empty text and unset numbers of optional fields, so that they stay absent; a required
 * text left empty is sent as "", so the schema's own message about it comes back.
 */
export function cleanValue(schema: JsonSchema, value: FormValue): FormValue {
  const out: FormValue = {};
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const v = value[key];
    const required = schema.required?.includes(key) ?? false;
    if (required && kind(child) === 'string' && !child.writeOnly && (v === undefined || v === '')) {
      out[key] = '';
      continue;
    }
    if (v === undefined || v === '' || v === null) continue;
    out[key] = kind(child) === 'object' && child.properties ? cleanValue(child, v as FormValue) : v;
  }
  for (const [key, v] of Object.entries(value)) if (!(key in out) && !schema.properties?.[key] && v !== undefined) out[key] = v;
  return out;
}

interface Props {
  schema: JsonSchema;
  value: FormValue;
  onChange: (value: FormValue) => void;
  errors?: Map<string, string>;
  /** Secret fields the server already holds: their inputs say so instead of showing a value. */
  secretsSet?: string[];
  /** A prefix for element ids, unique on the page. */
  id: string;
  path?: string;
}

export function SchemaForm({ schema, value, onChange, errors, secretsSet = [], id, path = '' }: Props) {
  const properties = Object.entries(schema.properties ?? {});
  if (properties.length === 0) return <p class="hint">No settings.</p>;
  return (
    <div class="schema-form">
      {properties.map(([key, child]) => {
        const fieldPath = path ? `${path}.${key}` : key;
        const fieldId = `${id}-${fieldPath.replace(/\./g, '-')}`;
        const required = schema.required?.includes(key) ?? false;
        const error = errors?.get(fieldPath);
        const set = (v: unknown) => onChange({ ...value, [key]: v });
        const current = value[key];
        const label = (
          <label for={fieldId}>
            {child.title ?? key}
            {required ? <span aria-hidden="true"> *</span> : null}
          </label>
        );
        const describedBy = [child.description ? `${fieldId}-help` : '', error ? `${fieldId}-error` : ''].filter(Boolean).join(' ') || undefined;
        let input: JSX.Element;
        const k = kind(child);
        if (k === 'object' && child.properties) {
          return (
            <fieldset key={key}>
              <legend>{child.title ?? key}</legend>
              {child.description ? <p class="hint">{child.description}</p> : null}
              <SchemaForm schema={child} value={(current as FormValue) ?? {}} onChange={set} errors={errors} secretsSet={secretsSet} id={id} path={fieldPath} />
            </fieldset>
          );
        } else if (k === 'enum') {
          input = (
            <select id={fieldId} aria-describedby={describedBy} value={current === undefined ? '' : JSON.stringify(current)} onChange={(e) => set(e.currentTarget.value === '' ? undefined : JSON.parse(e.currentTarget.value))}>
              <option value="">{required ? 'choose…' : '(not set)'}</option>
              {(child.enum ?? []).map((option) => (
                <option key={String(option)} value={JSON.stringify(option)}>
                  {String(option)}
                </option>
              ))}
            </select>
          );
        } else if (k === 'boolean') {
          input = <input id={fieldId} type="checkbox" aria-describedby={describedBy} checked={current === true} onChange={(e) => set(e.currentTarget.checked)} />;
        } else if (k === 'integer' || k === 'number') {
          input = (
            <input id={fieldId} type="number" step={k === 'integer' ? 1 : 'any'} min={child.minimum} max={child.maximum} aria-describedby={describedBy} value={current === undefined ? '' : String(current)}
              onInput={(e) => set(e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))} />
          );
        } else if (k === 'string') {
          const secret = child.writeOnly === true;
          const stored = secret && secretsSet.includes(fieldPath);
          input = (
            <input id={fieldId} type={secret ? 'password' : 'text'} autocomplete={secret ? 'new-password' : 'off'} aria-describedby={describedBy}
              placeholder={stored ? 'set (kept unless you type a new one)' : secret ? 'secret: write-only' : typeof child.default === 'string' ? child.default : ''}
              value={typeof current === 'string' ? current : ''} onInput={(e) => set(e.currentTarget.value)} />
          );
        } else {
          // Lists, one-of choices and anything richer: JSON, checked by the server against the schema.
          input = (
            <textarea id={fieldId} rows={3} aria-describedby={describedBy} placeholder="JSON" value={current === undefined ? '' : JSON.stringify(current)}
              onInput={(e) => {
                try {
                  set(e.currentTarget.value.trim() === '' ? undefined : JSON.parse(e.currentTarget.value));
                } catch {
                  // Kept as typed until it parses; the server refuses it otherwise.
                }
              }} />
          );
        }
        return (
          <div class={`field${error ? ' invalid' : ''}`} key={key}>
            {label}
            {input}
            {child.description ? <small id={`${fieldId}-help`}>{child.description}</small> : null}
            {error ? (
              <small class="field-error" id={`${fieldId}-error`} role="alert">
                {error}
              </small>
            ) : null}
          </div>
        );
      })}
    </div>
  );
}
