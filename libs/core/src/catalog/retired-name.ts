/**
 * The name a deleted network, node or policy keeps: its own with the time it was deleted, which
 * frees the name for a new one and still tells a reader of an old backup what it was.
 */
const NAME_LENGTH = 200;

export function retiredName(name: string, at: Date): string {
  const suffix = ` (deleted ${at.toISOString()})`;
  return `${name.slice(0, NAME_LENGTH - suffix.length)}${suffix}`;
}
