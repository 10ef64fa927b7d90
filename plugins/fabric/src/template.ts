/**
 * Restore templates (seed 004, "templating a restore process"): the host names, ports and paths
 * a network's configuration files name, found at backup time and rewritten at restore time.
 * Only those tokens change; every other byte of a file stays as it was.
 */
import { PluginError } from '@chainvault/plugin-sdk';
import type { RestoreTemplate } from './config';

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const HOST = `${LABEL}(?:\\.${LABEL})*`;
/** Before a host: the start, a character that cannot be part of a name or path, or a URL's `//`. */
const HOST_BEFORE = '(?<=^|[^A-Za-z0-9_./-]|//)';
/** After a host: not more of a name, and not a path going on. */
const HOST_AFTER = '(?![A-Za-z0-9_/-]|\\.[A-Za-z0-9])';

/** Addresses that mean "this machine" wherever the file is: they need no mapping. */
const LOCAL_HOSTS = new Set(['0.0.0.0', '127.0.0.1', 'localhost']);

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The `host:port` endpoints a configuration file names (listen and external addresses, URLs, bootstrap peers). */
export function endpointsIn(text: string): { host: string; port: number }[] {
  const found = new Map<string, { host: string; port: number }>();
  for (const match of text.matchAll(new RegExp(`${HOST_BEFORE}(${HOST}):(\\d{1,5})(?!\\d)`, 'g'))) {
    const host = match[1];
    const port = Number(match[2]);
    if (/^\d+$/.test(host) || port < 1 || port > 65535) continue;
    found.set(`${host}:${port}`, { host, port });
  }
  return [...found.values()];
}

/** The hosts of {@link endpointsIn} that a template must map (loopback and wildcard addresses need none). */
export function hostsToMap(text: string): string[] {
  return [...new Set(endpointsIn(text).map((e) => e.host).filter((h) => !LOCAL_HOSTS.has(h.toLowerCase())))].sort();
}

/** Throws, naming each one and where it is, when a template leaves a host of the backup unmapped. */
export function checkTemplateCoversHosts(template: RestoreTemplate, hostsByPlace: { place: string; hosts: string[] }[]): void {
  const mapped = new Set(Object.keys(template.hosts ?? {}));
  const missing = new Map<string, string[]>();
  for (const { place, hosts } of hostsByPlace) {
    for (const host of hosts) if (!mapped.has(host)) missing.set(host, [...(missing.get(host) ?? []), place]);
  }
  if (missing.size === 0) return;
  const list = [...missing].map(([host, places]) => `${host} (in ${[...new Set(places)].sort().join(', ')})`).join('; ');
  throw new PluginError('INVALID_TARGET', `the template leaves ${missing.size === 1 ? 'a host' : `${missing.size} hosts`} unmapped: ${list}; map each in template.hosts`);
}

/** Applies one map in a single pass, so a new value is never replaced again by another entry. */
function replaceAll(text: string, pattern: (keys: string) => string, map: Record<string, string>): { text: string; count: number } {
  const keys = Object.keys(map).sort((a, b) => b.length - a.length);
  if (keys.length === 0) return { text, count: 0 };
  let count = 0;
  const regex = new RegExp(pattern(keys.map(escape).join('|')), 'gm');
  // Every pattern captures the key as its one group, at the end of the match.
  const result = text.replace(regex, (match: string, key: string) => {
    count++;
    return match.slice(0, match.length - key.length) + map[key];
  });
  return { text: result, count };
}

export interface RewriteReport {
  hosts: number;
  ports: number;
  paths: number;
}

/**
 * Rewrites a configuration file's text: path prefixes first (a path that names a host keeps its
 * folders' names, which are on disk), then host names outside paths, then ports where a host's
 * port is given (`host:7051`) or a key whose name holds "port" gives one (`port: 7051`).
 */
export function rewriteConfig(text: string, template: RestoreTemplate): { text: string; report: RewriteReport } {
  const paths = replaceAll(text, (keys) => `(?<![A-Za-z0-9_.-])(${keys})(?=[/\\s"',\\]}]|$)`, template.paths ?? {});
  const hosts = replaceAll(paths.text, (keys) => `${HOST_BEFORE}(${keys})${HOST_AFTER}`, template.hosts ?? {});
  const portMap = Object.fromEntries(Object.entries(template.ports ?? {}).map(([from, to]) => [from, String(to)]));
  const afterHost = replaceAll(hosts.text, (keys) => `(?<=[A-Za-z0-9\\]]:)(${keys})(?!\\d)`, portMap);
  const portKeys = replaceAll(afterHost.text, (keys) => `^(?:[ \\t-]*[A-Za-z_.-]*[Pp]ort[A-Za-z_.-]*[ \\t]*:[ \\t]*["']?)(${keys})(?!\\d)`, portMap);
  return { text: portKeys.text, report: { paths: paths.count, hosts: hosts.count, ports: afterHost.count + portKeys.count } };
}

/** A path of the source rewritten by the template's path prefixes (the longest that applies). */
export function mapPath(path: string, template: RestoreTemplate | undefined): string {
  const entries = Object.entries(template?.paths ?? {}).sort((a, b) => b[0].length - a[0].length);
  for (const [from, to] of entries) {
    const prefix = from.replace(/\/+$/, '');
    if (path === prefix || path.startsWith(`${prefix}/`)) return to.replace(/\/+$/, '') + path.slice(prefix.length);
  }
  return path;
}
