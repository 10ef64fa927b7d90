/** Small checks of user input shared by the services. */
import { ChainvaultError } from './errors/chainvault.errors';

const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._:-]{0,199}$/u;

/** A display name: 1-200 letters, digits, spaces, `.`, `_`, `:` or `-`, starting with a letter or digit. */
export function requireName(value: unknown, field: string): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (!NAME_PATTERN.test(name)) {
    throw ChainvaultError.badInput(`${field} must be 1-200 letters, digits, spaces or . _ : - and start with a letter or digit; got ${JSON.stringify(value)}`);
  }
  return name;
}

export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw ChainvaultError.badInput(`${field} must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}
